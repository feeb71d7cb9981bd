// A site's trust list: threshold, endorsers with scopes (local and upstream), and the upstream
// subscription with its last sync and error.
import { api, describe, get, post } from '../api.js';
import { confirmAction } from '../dialog.js';
import { badge, empty, facts, field, h, notice, replace } from '../dom.js';
import { when } from '../format.js';
import { refresh } from '../nav.js';
import { pager } from '../pager.js';
import { currentUser, isAdmin } from '../session.js';
import type { Params, SiteDetail, SiteTrust } from '../types.js';
import { siteTabs } from './site-nav.js';

const list = (text: string) => text.split(/[\s,]+/).filter(Boolean);
const ms = (n: number | null) => (n === null ? null : new Date(n).toISOString());

export async function trustPage(params: Params) {
  const site = params.site ?? '';
  const path = `/sites/${encodeURIComponent(site)}`;
  const [trust, detail] = await Promise.all([get<SiteTrust>(`${path}/trust`), get<SiteDetail>(path)]);
  const me = currentUser();
  const allowed = isAdmin(me) || !!me?.roles.some((r) => r.role === 'site-admin' && r.site === site);
  const flash = h('div', { 'aria-live': 'polite' });
  const act = async (fn: () => Promise<unknown>, done: string) => {
    try {
      await fn();
      await refresh();
    } catch (err) {
      replace(flash, notice(`${done} failed: ${describe(err)}`, 'bad', 'alert'));
    }
  };

  const threshold = h('input', { type: 'number', min: '1', max: '100', value: String(trust.threshold) });
  const thresholdForm = h(
    'form',
    { class: 'inline' },
    field('Signatures required (k of n)', threshold),
    h('button', { type: 'submit', class: 'secondary' }, 'Set threshold'),
  );
  thresholdForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void act(
      () => api('PUT', `${path}/threshold`, { body: { threshold: Number(threshold.value) } }),
      'Setting the threshold',
    );
  });

  const issuer = h('input', { required: true, placeholder: '/DC=org/DC=example/CN=Example CA' });
  const subject = h('input', { required: true, placeholder: '/DC=org/DC=example/CN=Alice' });
  const kinds = h('input', { placeholder: 'vm-image, container-image' });
  const voTags = h('input', { placeholder: 'cms, atlas' });
  const addForm = h(
    'form',
    { class: 'stack' },
    h('h3', null, 'Add an endorser'),
    field('Issuer DN', issuer),
    field('Subject DN', subject),
    field('Kinds (empty: all)', kinds),
    field('VO tags (empty: all)', voTags),
    h('button', { type: 'submit', class: 'primary' }, 'Add endorser'),
  );
  addForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const scope = {
      ...(kinds.value ? { kinds: list(kinds.value) } : {}),
      ...(voTags.value ? { voTags: list(voTags.value) } : {}),
    };
    void act(
      () => post(`${path}/endorsers`, { issuer: issuer.value.trim(), subject: subject.value.trim(), scope }),
      'Adding the endorser',
    );
  });

  const endorsers = pager({
    items: trust.effective,
    label: 'endorsers',
    emptyText: 'No endorser matches the filter.',
    text: (e) => `${e.rule.subject} ${e.rule.issuer}`,
    render: (items) =>
      h(
        'ul',
        { class: 'plain endorsers' },
        items.map((e) =>
          h(
            'li',
            null,
            h(
              'p',
              null,
              badge(e.origin, e.origin === 'local' ? 'neutral' : 'warn'),
              ' ',
              h('span', { class: 'dn' }, e.rule.subject),
            ),
            facts([
              ['Issuer', h('span', { class: 'dn' }, e.rule.issuer)],
              ['Kinds', e.rule.scope?.kinds?.join(', ') ?? 'all'],
              ['VO tags', e.rule.scope?.voTags?.join(', ') ?? 'all'],
            ]),
            allowed
              ? h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: async () => {
                      const ok = await confirmAction(
                        'Remove this endorser?',
                        [
                          h(
                            'p',
                            null,
                            'Remove ',
                            h('span', { class: 'dn' }, e.rule.subject),
                            ` from the trust list of ${site}?`,
                          ),
                          h(
                            'p',
                            { class: 'agents-will' },
                            'Catalogs that need this endorser’s signature to reach the threshold leave the next approval; agents stop using their entries.',
                          ),
                        ],
                        'Remove',
                      );
                      if (ok)
                        void act(
                          () =>
                            post(`${path}/endorsers/remove`, {
                              issuer: e.rule.issuer,
                              subject: e.rule.subject,
                            }),
                          'Removing the endorser',
                        );
                    },
                  },
                  'Remove',
                )
              : null,
          ),
        ),
      ),
  });

  const subscription = h(
    'section',
    { class: 'card', 'aria-labelledby': 'upstream' },
    h('h2', { id: 'upstream' }, 'Upstream trust list'),
    detail.subscription
      ? subscriptionFacts(detail.subscription, allowed, act, path)
      : empty('This site follows no upstream trust list.'),
    allowed ? subscribeForm(act, path, detail.subscription !== null) : null,
  );

  return [
    h('h1', null, `Trust list of ${site}`),
    siteTabs(site),
    flash,
    h(
      'section',
      { class: 'card' },
      h('h2', null, `Threshold: ${trust.threshold} signature${trust.threshold === 1 ? '' : 's'}`),
      allowed ? thresholdForm : null,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'endorsers' },
      h('h2', { id: 'endorsers' }, `Endorsers (${trust.effective.length})`),
      trust.effective.length ? endorsers : empty('The site trusts no endorser yet: nothing can be approved.'),
      allowed ? addForm : null,
    ),
    subscription,
  ];
}

type Act = (fn: () => Promise<unknown>, done: string) => Promise<void>;

function subscriptionFacts(
  sub: NonNullable<SiteDetail['subscription']>,
  allowed: boolean,
  act: Act,
  path: string,
) {
  const tone = sub.status === 'ok' ? 'good' : sub.status === 'error' ? 'bad' : 'warn';
  return [
    facts([
      ['URL', h('span', { class: 'dn' }, sub.url)],
      ['Signer', h('span', { class: 'dn' }, sub.signerSubject)],
      ['Status', badge(sub.status, tone)],
      ['Last attempt', when(ms(sub.lastAttemptAt))],
      ['Last success', when(ms(sub.lastSuccessAt))],
      ['Applied version', sub.lastVersion === null ? '—' : String(sub.lastVersion)],
    ]),
    sub.lastError ? notice(`Last error: ${sub.lastError}`, 'bad') : null,
    allowed
      ? h(
          'div',
          { class: 'actions-left' },
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () => void act(() => post(`${path}/subscription/sync`), 'Syncing'),
            },
            'Sync now',
          ),
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              onclick: async () => {
                const ok = await confirmAction(
                  'Stop following this list?',
                  h(
                    'p',
                    { class: 'agents-will' },
                    'Endorsers that only the upstream list names leave the trust list; catalogs that need them leave the next approval.',
                  ),
                  'Unsubscribe',
                );
                if (ok) void act(() => api('DELETE', `${path}/subscription`), 'Unsubscribing');
              },
            },
            'Unsubscribe',
          ),
        )
      : null,
  ];
}

function subscribeForm(act: Act, path: string, replacing: boolean) {
  const url = h('input', { type: 'url', required: true, placeholder: 'https://example.org/trust/list.yaml' });
  const issuer = h('input', { required: true, placeholder: '/DC=org/DC=example/CN=Example CA' });
  const subject = h('input', { required: true, placeholder: '/DC=org/DC=example/CN=Trust list signer' });
  const form = h(
    'form',
    { class: 'stack' },
    h('h3', null, replacing ? 'Follow another list' : 'Follow an upstream list'),
    h('p', { class: 'hint' }, 'The list at the URL must be signed (URL.p7s) by exactly this signer.'),
    field('List URL', url),
    field('Signer issuer DN', issuer),
    field('Signer subject DN', subject),
    h('button', { type: 'submit', class: 'primary' }, 'Subscribe'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void act(
      () =>
        api('PUT', `${path}/subscription`, {
          body: {
            url: url.value.trim(),
            signerIssuer: issuer.value.trim(),
            signerSubject: subject.value.trim(),
          },
        }),
      'Subscribing',
    );
  });
  return form;
}
