// Dashboard: catalogs, entries waiting for approval, expiring approvals and certificates, swarms.
import { get } from '../api.js';
import { badge, dataTable, empty, h, mono, type Tone } from '../dom.js';
import { daysUntil, relative, short, when } from '../format.js';
import { siteHref } from '../nav.js';
import { pager } from '../pager.js';
import type { Dashboard } from '../types.js';

const soonDays = 30;

function expiryTone(iso: string, warnDays: number, now: number): Tone {
  const days = daysUntil(iso, now);
  if (days < 0) return 'bad';
  return days < warnDays ? 'warn' : 'good';
}

function expiry(iso: string, warnDays: number, now: number) {
  const days = daysUntil(iso, now);
  const tone = expiryTone(iso, warnDays, now);
  return [
    badge(days < 0 ? 'expired' : tone === 'warn' ? 'expires soon' : 'valid', tone),
    ' ',
    h('time', { datetime: iso, title: when(iso) }, relative(iso, now)),
  ];
}

const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function swarmSummary(d: Dashboard): string {
  const done = d.swarms.reduce((n, s) => n + s.seeders, 0);
  const downloading = d.swarms.reduce((n, s) => n + s.leechers, 0);
  const active = d.swarms.filter((s) => s.peers > 0).length;
  return `${count(done, 'agent')} done, ${downloading} downloading, in ${active} active of ${count(d.swarmsTotal, 'artifact')}.`;
}

function swarmTable(swarms: Dashboard['swarms']) {
  return dataTable(
    ['Artifact', 'Info hash', 'Done (seeders)', 'In progress (leechers)', 'Peers'],
    swarms.map((s) =>
      h(
        'tr',
        null,
        h('td', null, h('a', { href: `#/catalogs/${s.catalogId}` }, s.name)),
        h('td', null, mono(short(s.infoHash, 16))),
        h('td', null, String(s.seeders)),
        h('td', null, String(s.leechers)),
        h('td', null, s.peers === 0 ? badge('idle', 'neutral') : String(s.peers)),
      ),
    ),
  );
}

function catalogsCard(d: Dashboard, now: number) {
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'dash-catalogs' },
    h('h2', { id: 'dash-catalogs' }, `Catalogs (${d.catalogs.length})`),
    d.catalogs.length === 0
      ? empty('No catalog has been published yet. Endorsers publish with tsw-endorse publish.')
      : h(
          'ul',
          { class: 'plain' },
          d.catalogs
            .slice(0, 20)
            .map((c) =>
              h(
                'li',
                null,
                h('a', { href: `#/catalogs/${c.id}` }, c.name),
                ` v${c.latestVersion} · `,
                expiry(c.expires, 7, now),
              ),
            ),
          d.catalogs.length > 20
            ? h('li', null, h('a', { href: '#/catalogs' }, `all ${d.catalogs.length} catalogs…`))
            : null,
        ),
  );
}

function sitesCard(d: Dashboard, now: number) {
  const pending = d.sites.reduce((n, s) => n + s.pending, 0);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'dash-sites' },
    h('h2', { id: 'dash-sites' }, `Waiting for approval (${pending})`),
    d.sites.length === 0
      ? empty('No site exists yet. An admin creates sites (POST /api/v1/sites).')
      : dataTable(
          ['Site', 'Pending', 'Approved', 'Approval'],
          d.sites.map((s) =>
            h(
              'tr',
              null,
              h('td', null, h('a', { href: siteHref(s.name, 'approvals') }, s.name)),
              h('td', null, s.pending > 0 ? badge(`${s.pending} waiting`, 'warn') : badge('none', 'good')),
              h('td', null, String(s.approved)),
              h(
                'td',
                null,
                s.approval
                  ? [`v${s.approval.version} · `, expiry(s.approval.expires, 1 / 12, now)]
                  : s.hasSigner
                    ? badge('not signed yet', 'warn')
                    : badge('no site signer', 'bad'),
              ),
            ),
          ),
        ),
  );
}

function certificatesCard(d: Dashboard, now: number) {
  const expiring = d.certificates.filter((c) => daysUntil(c.notAfter, now) < soonDays);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'dash-certs' },
    h('h2', { id: 'dash-certs' }, `Certificates expiring within ${soonDays} days (${expiring.length})`),
    expiring.length === 0
      ? empty(`No site, endorser or CA certificate expires in the next ${soonDays} days.`)
      : h(
          'ul',
          { class: 'plain' },
          expiring.map((c) =>
            h(
              'li',
              null,
              badge(c.role, 'neutral'),
              ' ',
              h('span', { class: 'dn' }, c.subject),
              ' · ',
              expiry(c.notAfter, soonDays, now),
            ),
          ),
        ),
  );
}

function swarmsCard(d: Dashboard) {
  return h(
    'section',
    { class: 'card wide', 'aria-labelledby': 'dash-swarms' },
    h('h2', { id: 'dash-swarms' }, 'Swarm health'),
    h(
      'p',
      { class: 'hint' },
      'From the embedded tracker: seeders are agents done with the artifact, leechers are still downloading.',
    ),
    d.swarms.length === 0
      ? empty('No catalogued artifact has a torrent yet.')
      : [
          h('p', null, swarmSummary(d)),
          pager({
            items: d.swarms,
            pageSize: 10,
            label: 'swarms',
            emptyText: 'No artifact matches the filter.',
            text: (s) => `${s.name} ${s.infoHash}`,
            render: swarmTable,
          }),
        ],
    d.swarmsTotal > d.swarms.length
      ? h('p', { class: 'hint' }, `Listing the ${d.swarms.length} busiest of ${d.swarmsTotal} artifacts.`)
      : null,
  );
}

export async function dashboardPage() {
  const d = await get<Dashboard>('/dashboard');
  const now = new Date(d.now).getTime();
  return [
    h('h1', null, 'Dashboard'),
    h(
      'div',
      { class: 'grid' },
      sitesCard(d, now),
      catalogsCard(d, now),
      certificatesCard(d, now),
      swarmsCard(d),
    ),
  ];
}
