// Agent download: the site's ready tsw-agent configuration and the trust anchors as CApath files.
import { apiText, get } from '../api.js';
import { type Child, empty, facts, h, notice } from '../dom.js';
import { relative, when } from '../format.js';
import type { Params, SiteDetail } from '../types.js';
import { siteTabs } from './site-nav.js';

interface Anchors {
  configured: boolean;
  certificates: { fileName: string; subject: string; notAfter: string; pem: string }[];
  crls: { fileName: string | null; issuer: string; nextUpdate: string | null; pem: string }[];
}

function download(name: string, text: string, type: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  return h('a', { href: url, download: name, class: 'button secondary' }, `Download ${name}`);
}

export async function agentsPage(params: Params) {
  const site = params.site ?? '';
  const path = `/sites/${encodeURIComponent(site)}`;
  const [detail, anchors] = await Promise.all([get<SiteDetail>(path), get<Anchors>('/trust-anchors')]);
  let config: Child;
  if (detail.hasSigner) {
    const yaml = (await apiText('GET', `${path}/agent-config`)).text;
    config = [
      h('pre', { class: 'config', 'aria-label': 'Agent configuration' }, yaml),
      download(`tsw-agent-${site}.yaml`, yaml, 'application/yaml'),
    ];
  } else
    config = notice(
      'The site has no signer yet: agents could not verify its approval. An admin sets one first.',
      'warn',
    );
  const files = [
    ...anchors.certificates.map((c) => ({
      name: c.fileName,
      pem: c.pem,
      what: c.subject,
      until: c.notAfter,
    })),
    ...anchors.crls
      .filter((c) => c.fileName)
      .map((c) => ({ name: c.fileName ?? '', pem: c.pem, what: `CRL of ${c.issuer}`, until: c.nextUpdate })),
  ];
  const script = [
    '# as root on each node: install the CA certificates and CRLs as a CApath directory',
    'install -d -m 0755 /etc/grid-security/certificates',
    ...files.map((f) => `install -m 0644 ${f.name} /etc/grid-security/certificates/${f.name}`),
  ].join('\n');
  return [
    h('h1', null, `Agent download for ${site}`),
    siteTabs(site),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'agent-config' },
      h('h2', { id: 'agent-config' }, 'Agent configuration'),
      h(
        'p',
        null,
        'Save as /etc/tsw-agent/config.yaml and start tsw-agent --config /etc/tsw-agent/config.yaml. Only the site, the layout URL and the trust settings are set; every other key keeps its default.',
      ),
      config,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'anchors' },
      h('h2', { id: 'anchors' }, 'Trust anchors'),
      !anchors.configured || files.length === 0
        ? empty('This server has no trust anchors configured.')
        : [
            h(
              'ul',
              { class: 'plain files' },
              files.map((f) =>
                h(
                  'li',
                  null,
                  download(f.name, f.pem, 'application/x-pem-file'),
                  ' ',
                  h('span', { class: 'dn' }, f.what),
                  f.until ? ` · valid until ${when(f.until)}` : null,
                ),
              ),
            ),
            h('pre', { class: 'config', 'aria-label': 'Install commands' }, script),
          ],
      facts([
        [
          'Approval',
          detail.approval
            ? `version ${detail.approval.version}, expires ${relative(detail.approval.expires)}`
            : 'not published yet',
        ],
      ]),
    ),
  ];
}
