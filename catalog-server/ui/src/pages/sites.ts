// Sites: the list, with links to each site's approvals, trust list and agent download.
import { get } from '../api.js';
import { badge, empty, h } from '../dom.js';
import { siteHref } from '../nav.js';
import type { SiteSummary } from '../types.js';

export async function sitesPage() {
  const sites = await get<SiteSummary[]>('/sites');
  return [
    h('h1', null, 'Sites'),
    h(
      'section',
      { class: 'card' },
      sites.length === 0
        ? empty('No site exists yet. An admin creates one with POST /api/v1/sites, then sets its signer.')
        : h(
            'ul',
            { class: 'plain sites' },
            sites.map((s) =>
              h(
                'li',
                null,
                h('strong', null, s.name),
                ` · threshold ${s.threshold} · `,
                s.hasSigner ? badge('signer set', 'good') : badge('no signer', 'bad'),
                ' · ',
                h('a', { href: siteHref(s.name, 'approvals') }, 'approvals'),
                ' · ',
                h('a', { href: siteHref(s.name, 'trust') }, 'trust list'),
                ' · ',
                h('a', { href: siteHref(s.name, 'agents') }, 'agent download'),
              ),
            ),
          ),
    ),
  ];
}
