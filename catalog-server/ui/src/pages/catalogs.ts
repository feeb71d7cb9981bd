// Catalogs: the list, and one version in detail with every signature's chain status and every
// entry's metadata and hashes.
import type { Reason } from '../api.js';
import { get } from '../api.js';
import { badge, type Child, empty, facts, h, mono, type Tone } from '../dom.js';
import { bytes, relative, when } from '../format.js';
import { pager } from '../pager.js';
import type { CatalogSummary, Params, SignatureView, VersionDetail, VersionListItem } from '../types.js';

export async function catalogsPage() {
  const list = await get<CatalogSummary[]>('/catalogs');
  return [
    h('h1', null, 'Catalogs'),
    h(
      'section',
      { class: 'card' },
      list.length === 0
        ? empty(
            'No catalog has been published yet. Endorsers publish with tsw-endorse publish, or sign a draft.',
          )
        : pager({
            items: list,
            label: 'catalogs',
            emptyText: 'No catalog matches the filter.',
            text: (c) => `${c.name} ${c.id}`,
            render: (items) =>
              h(
                'table',
                null,
                h(
                  'thead',
                  null,
                  h('tr', null, h('th', null, 'Name'), h('th', null, 'Newest version'), h('th', null, 'Id')),
                ),
                h(
                  'tbody',
                  null,
                  items.map((c) =>
                    h(
                      'tr',
                      null,
                      h('td', null, h('a', { href: `#/catalogs/${c.id}` }, c.name)),
                      h('td', null, `v${c.latestVersion}`),
                      h('td', null, mono(c.id)),
                    ),
                  ),
                ),
              ),
          }),
    ),
  ];
}

const statusWords: [string[], string, Tone][] = [
  [['CERT_REVOKED'], 'revoked', 'bad'],
  [['CERT_EXPIRED', 'CERT_NOT_YET_VALID'], 'expired', 'bad'],
  [['CERT_UNTRUSTED'], 'unknown CA', 'bad'],
  [['CRL_MISSING', 'CRL_EXPIRED', 'CRL_INVALID'], 'CRL problem', 'warn'],
  [['DIGEST_MISMATCH', 'SIGNATURE_INVALID', 'SIGNATURE_MALFORMED'], 'signature invalid', 'bad'],
];

/** The chain status in words: valid, expired, revoked, unknown CA, or the first reason. */
export function signatureStatus(valid: boolean, reasons: Reason[]): { word: string; tone: Tone } {
  if (valid) return { word: 'valid', tone: 'good' };
  for (const [codes, word, tone] of statusWords)
    if (reasons.some((r) => codes.includes(r.code))) return { word, tone };
  return { word: reasons[0]?.code.toLowerCase().replace(/_/g, ' ') ?? 'invalid', tone: 'bad' };
}

function signatureCard(s: SignatureView) {
  const status = signatureStatus(s.valid, s.reasons);
  return h(
    'li',
    { class: `signature ${status.tone}` },
    h('p', null, badge(status.word, status.tone), ' ', h('span', { class: 'dn' }, s.subject)),
    facts([
      ['Issuer', h('span', { class: 'dn' }, s.issuer)],
      ['Signed', s.signingTime ? when(s.signingTime) : `received ${when(s.addedAt)}`],
      ['Certificate valid until', s.notAfter ? `${when(s.notAfter)} (${relative(s.notAfter)})` : '—'],
      ['Certificate sha256', mono(s.signerCertSha256)],
    ]),
    s.reasons.length
      ? h(
          'ul',
          { class: 'reasons' },
          s.reasons.map((r) => h('li', null, mono(r.code), ' ', r.message)),
        )
      : null,
  );
}

function entryRows(items: VersionDetail['entries']) {
  return h(
    'ul',
    { class: 'entries' },
    items.map((e) => {
      const d = e.detail;
      const rows: [string, Child][] = [
        ['Kind', e.kind],
        ['Entry id', mono(e.id)],
        ['Content sha256', mono(e.sha256)],
      ];
      if (d?.artifact) {
        rows.push(['Size', bytes(d.artifact.size)]);
        if (d.artifact.sha512) rows.push(['sha512', mono(d.artifact.sha512)]);
        rows.push(
          ['Info hash', mono(d.artifact.infoHash)],
          ['.torrent sha256', mono(d.artifact.torrent.sha256)],
        );
      }
      if (d?.oci) rows.push(['Image', mono(`${d.oci.reference}@${d.oci.digest}`)]);
      if (d?.cvmfs) rows.push(['CVMFS', mono(`${d.cvmfs.repository}${d.cvmfs.path}`)]);
      if (d?.image)
        rows.push([
          'Image metadata',
          Object.entries(d.image)
            .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
            .join(' · '),
        ]);
      if (d?.produced) rows.push(['Produced', when(d.produced)]);
      if (e.voTags.length) rows.push(['VO tags', e.voTags.join(', ')]);
      if (e.swarm)
        rows.push([
          'Swarm',
          `${e.swarm.seeders} done · ${e.swarm.leechers} downloading · ${e.swarm.peers} peers`,
        ]);
      return h(
        'li',
        null,
        h(
          'details',
          null,
          h('summary', null, h('strong', null, e.name), ` ${d?.version ?? ''} `, badge(e.kind, 'neutral')),
          facts(rows),
        ),
      );
    }),
  );
}

export async function catalogPage(params: Params) {
  const id = params.id ?? '';
  const versions = await get<VersionListItem[]>(`/catalogs/${id}/versions`);
  const newest = versions.reduce((m, v) => Math.max(m, v.version), 0);
  const version = params.version ? Number(params.version) : newest;
  const v = await get<VersionDetail>(`/catalogs/${id}/versions/${version}`);
  const valid = v.signatures.filter((s) => s.valid).length;
  const versionNav = h(
    'nav',
    { class: 'versions', 'aria-label': 'Versions' },
    'Versions: ',
    versions
      .slice()
      .sort((a, b) => b.version - a.version)
      .slice(0, 20)
      .map((x) =>
        x.version === version
          ? h('strong', { 'aria-current': 'page' }, `v${x.version}`)
          : h('a', { href: `#/catalogs/${id}/v/${x.version}` }, `v${x.version}`),
      ),
  );
  return [
    h('h1', null, `${v.name} v${v.version}`),
    versionNav,
    h(
      'section',
      { class: 'card' },
      facts([
        ['Catalog id', mono(v.id)],
        [
          'Endorser',
          v.endorser?.name
            ? [v.endorser.name, v.endorser.dn ? [' ', h('span', { class: 'dn' }, v.endorser.dn)] : null]
            : '—',
        ],
        ['Issued', when(v.issued)],
        ['Expires', [when(v.expires), ' (', relative(v.expires), ')']],
        ['Bytes sha256', mono(v.sha256)],
        ['Uploaded by', v.uploadedBy],
        ['Draft', h('a', { href: `#/catalogs/${id}/draft` }, 'prepare the next version')],
      ]),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'sigs' },
      h('h2', { id: 'sigs' }, `Signatures (${valid} of ${v.signatures.length} valid now)`),
      v.signatures.length === 0
        ? empty('No signature.')
        : h('ul', { class: 'signatures' }, v.signatures.map(signatureCard)),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'entries' },
      h('h2', { id: 'entries' }, `Entries (${v.entries.length})`),
      pager({
        items: v.entries,
        label: 'entries',
        emptyText: v.entries.length ? 'No entry matches the filter.' : 'This version has no entries.',
        text: (e) => `${e.name} ${e.kind} ${e.sha256} ${e.id} ${e.voTags.join(' ')}`,
        render: entryRows,
      }),
    ),
  ];
}
