// A site's approvals: approve or revoke one entry, approve everything from one endorser, the
// changes since the published approval; every decision goes through a confirmation that says
// what agents will do, then the approval is re-signed at once.
import { describe, get, post } from '../api.js';
import { confirmAction } from '../dialog.js';
import { badge, type Child, dataTable, empty, h, mono, notice, replace, type Tone } from '../dom.js';
import { relative, short, when } from '../format.js';
import { refresh, setFlash, takeFlash } from '../nav.js';
import { pager } from '../pager.js';
import { canApprove, currentUser } from '../session.js';
import type { ChangedEntry, Params, SiteEntryView, SiteOverview, SiteTrust } from '../types.js';
import { siteTabs } from './site-nav.js';

const stateTone: Record<SiteEntryView['state'], Tone> = { approved: 'good', revoked: 'bad', pending: 'warn' };

/** After a decision: re-sign at once so agents see it at their next poll, and say so. */
async function signNow(site: string, flash: HTMLElement, done: string) {
  try {
    const signed = await post<{ status: string; version?: number }>(
      `/sites/${encodeURIComponent(site)}/approval/sign`,
    );
    setFlash(
      signed.version
        ? `${done} Approval version ${signed.version} is signed and published; agents use it at their next poll.`
        : `${done} The site has no signer yet, so no approval was published.`,
    );
  } catch (err) {
    setFlash(`${done} Re-signing the approval failed: ${describe(err)}`);
  }
  replace(flash);
  await refresh();
}

function flashNotice(): HTMLElement | null {
  const text = takeFlash();
  return text ? notice(text, 'good') : null;
}

function entryDescription(e: SiteEntryView, catalogName: string): Child {
  return [
    h('strong', null, `${e.name} ${e.version}`),
    ` (${e.kind}) from catalog ${catalogName}, content sha256 `,
    mono(e.sha256),
  ];
}

async function decide(
  site: string,
  catalogId: string,
  catalogName: string,
  e: SiteEntryView,
  approve: boolean,
  flash: HTMLElement,
) {
  const what = entryDescription(e, catalogName);
  const agents = approve
    ? e.kind === 'vm-image'
      ? `Agents of site ${site} will download it over BitTorrent, check both the endorser signatures and the approval, verify the hash, and install it at their next poll.`
      : `At their next poll, agents of site ${site} that handle ${e.kind} entries will download it over BitTorrent, check both the endorser signatures and the approval, and verify the hash; the CVMFS bridge following ${site} publishes it into its repository.`
    : `Agents of site ${site} will stop using it at their next poll: installed copies are archived or removed (their lifecycle.onRevoke setting), and it will not be downloaded again.`;
  const ok = await confirmAction(
    approve ? 'Approve this entry?' : 'Revoke this entry?',
    [h('p', null, approve ? 'Approve ' : 'Revoke ', what, '.'), h('p', { class: 'agents-will' }, agents)],
    approve ? 'Approve' : 'Revoke',
  );
  if (!ok) return;
  try {
    await post(`/sites/${encodeURIComponent(site)}/${approve ? 'approvals' : 'revocations'}`, {
      catalogId,
      entryId: e.id,
    });
  } catch (err) {
    replace(flash, notice(`Not ${approve ? 'approved' : 'revoked'}: ${describe(err)}`, 'bad', 'alert'));
    return;
  }
  await signNow(site, flash, `${e.name} ${e.version} ${approve ? 'approved' : 'revoked'}.`);
}

const changesShown = 20;

/** "+ name" / "− name" lines, the first 20 of each, with a count of the rest. */
function changeList(added: ChangedEntry[], removed: ChangedEntry[], label: string) {
  const line = (c: ChangedEntry, sign: '+' | '−') =>
    h(
      'li',
      null,
      h('span', { class: `change ${sign === '+' ? 'added' : 'removed'}` }, sign),
      ' ',
      c.name,
      ' ',
      mono(short(c.entryId, 8)),
    );
  const more = (n: number, what: string) =>
    n > changesShown ? h('li', { class: 'hint' }, `and ${n - changesShown} more ${what}`) : null;
  return h(
    'ul',
    { class: 'plain changes', 'aria-label': label },
    added.slice(0, changesShown).map((c) => line(c, '+')),
    more(added.length, 'added'),
    removed.slice(0, changesShown).map((c) => line(c, '−')),
    more(removed.length, 'removed'),
  );
}

function changesSection(o: SiteOverview) {
  const pending = o.changes.added.length + o.changes.removed.length;
  const last = o.lastChange;
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'changes' },
    h('h2', { id: 'changes' }, 'Changes since the last approval'),
    o.published
      ? h(
          'p',
          null,
          `Published approval: version ${o.published.version}, signed ${when(o.published.issued)}, expires ${relative(o.published.expires)}.`,
        )
      : notice('No approval has been published for this site yet.', 'warn'),
    pending === 0
      ? empty('Nothing waits: the published approval says exactly what the decisions say.')
      : [
          h('h3', null, `Not yet published (${pending})`),
          changeList(o.changes.added, o.changes.removed, 'Changes not yet published'),
        ],
    last
      ? [
          h(
            'h3',
            null,
            last.fromVersion === 0
              ? `First approval, version ${last.toVersion} (${when(last.at)})`
              : `Last change: version ${last.fromVersion} → ${last.toVersion} (${when(last.at)})`,
          ),
          changeList(last.added, last.removed, 'Last published change'),
        ]
      : null,
  );
}

function endorserSection(site: string, trust: SiteTrust, flash: HTMLElement, allowed: boolean) {
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'by-endorser' },
    h('h2', { id: 'by-endorser' }, 'Approve everything from one endorser'),
    trust.effective.length === 0
      ? empty('The site trusts no endorser yet: add one on the trust list first.')
      : h(
          'ul',
          { class: 'plain' },
          trust.effective.map((e) =>
            h(
              'li',
              null,
              h('span', { class: 'dn' }, e.rule.subject),
              ' ',
              allowed
                ? h(
                    'button',
                    {
                      type: 'button',
                      class: 'secondary',
                      onclick: async () => {
                        const ok = await confirmAction(
                          'Approve everything from this endorser?',
                          [
                            h(
                              'p',
                              null,
                              'Every entry signed by ',
                              h('span', { class: 'dn' }, e.rule.subject),
                              ', in today’s and all future catalog versions, will be approved for ',
                              site,
                              ' (within the endorser’s scope on the trust list; revocations still win).',
                            ),
                            h(
                              'p',
                              { class: 'agents-will' },
                              `Agents of site ${site} will download and install all of them at their next poll.`,
                            ),
                          ],
                          'Approve all',
                        );
                        if (!ok) return;
                        try {
                          await post(`/sites/${encodeURIComponent(site)}/endorser-approvals`, {
                            issuer: e.rule.issuer,
                            subject: e.rule.subject,
                          });
                        } catch (err) {
                          replace(flash, notice(`Not approved: ${describe(err)}`, 'bad', 'alert'));
                          return;
                        }
                        await signNow(site, flash, 'Everything from this endorser is approved.');
                      },
                    },
                    'Approve all from this endorser',
                  )
                : null,
            ),
          ),
        ),
  );
}

type SiteCatalog = SiteOverview['catalogs'][number];

interface Decider {
  site: string;
  allowed: boolean;
  flash: HTMLElement;
}

function entryRow(c: SiteCatalog, e: SiteEntryView, d: Decider) {
  const act = (approve: boolean, label: string, cls: string) =>
    h(
      'button',
      { type: 'button', class: cls, onclick: () => void decide(d.site, c.id, c.name, e, approve, d.flash) },
      label,
    );
  return h(
    'tr',
    { 'data-entry': e.id },
    h('td', null, h('strong', null, e.name), ` ${e.version}`, h('br'), h('small', null, e.kind)),
    h(
      'td',
      null,
      badge(e.state, stateTone[e.state]),
      e.decision ? h('small', { class: 'by' }, ` by ${e.decision.byUser} ${relative(e.decision.at)}`) : null,
    ),
    h('td', null, mono(short(e.sha256, 16))),
    h(
      'td',
      { class: 'row-actions' },
      d.allowed && e.state !== 'approved' ? act(true, 'Approve', 'primary') : null,
      d.allowed && e.state !== 'revoked' ? act(false, 'Revoke', 'danger') : null,
    ),
  );
}

function entryTable(c: SiteCatalog, items: SiteEntryView[], d: Decider) {
  return dataTable(
    ['Entry', 'State', 'sha256', h('span', { class: 'sr-only' }, 'Actions')],
    items.map((e) => entryRow(c, e, d)),
    { class: 'entries-table' },
  );
}

function catalogSection(c: SiteCatalog, d: Decider) {
  const counts = { approved: 0, revoked: 0, pending: 0 };
  for (const e of c.entries) counts[e.state]++;
  return h(
    'section',
    { class: 'card', 'aria-label': `Catalog ${c.name}` },
    h('h2', null, h('a', { href: `#/catalogs/${c.id}` }, c.name), ` v${c.version}`),
    c.verified
      ? h(
          'p',
          null,
          badge('verifies under the trust list', 'good'),
          ` ${counts.approved} approved · ${counts.pending} pending · ${counts.revoked} revoked`,
        )
      : notice(['Not listed for this site: ', c.reasons.map((r) => r.message).join('; ')], 'warn'),
    pager({
      items: c.entries,
      label: `entries of ${c.name}`,
      emptyText: c.entries.length ? 'No entry matches the filter.' : 'This catalog has no entries.',
      text: (e) => `${e.name} ${e.version} ${e.kind} ${e.state} ${e.sha256}`,
      render: (items) => entryTable(c, items, d),
    }),
  );
}

export async function approvalsPage(params: Params) {
  const site = params.site ?? '';
  const path = `/sites/${encodeURIComponent(site)}`;
  const [overview, trust] = await Promise.all([
    get<SiteOverview>(`${path}/overview`),
    get<SiteTrust>(`${path}/trust`),
  ]);
  const allowed = canApprove(currentUser(), site);
  const flash = h('div', { class: 'flash', 'aria-live': 'polite' }, flashNotice());
  const decider: Decider = { site, allowed, flash };
  return [
    h('h1', null, `Approvals for ${site}`),
    siteTabs(site),
    flash,
    allowed
      ? null
      : notice(
          'You can read this site’s approvals; approving needs the site-admin role for this site.',
          'neutral',
        ),
    changesSection(overview),
    endorserSection(site, trust, flash, allowed),
    overview.catalogs.length === 0
      ? h(
          'section',
          { class: 'card' },
          empty('No catalog has been published yet, so there is nothing to approve.'),
        )
      : overview.catalogs.map((c) => catalogSection(c, decider)),
  ];
}
