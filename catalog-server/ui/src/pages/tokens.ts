// API tokens: your own (or, for admins, another user's): list, revoke, and create one (shown once).
import { api, describe, get, post } from '../api.js';
import { confirmAction } from '../dialog.js';
import { badge, dataTable, empty, field, h, mono, notice, replace } from '../dom.js';
import { relative, when } from '../format.js';
import { refresh } from '../nav.js';
import { pager } from '../pager.js';
import { currentUser } from '../session.js';
import type { Params, TokenView } from '../types.js';

export async function tokensPage(_params: Params) {
  const query = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const user = query.get('user') ?? currentUser()?.name ?? '';
  const own = user === currentUser()?.name;
  const tokens = await get<TokenView[]>(`/tokens${own ? '' : `?user=${encodeURIComponent(user)}`}`);
  const flash = h('div', { 'aria-live': 'polite' });
  const label = h('input', { maxlength: '200', placeholder: 'e.g. ci-publisher' });
  const days = h('input', { type: 'number', min: '1', max: '365', value: '30' });
  const scopeBoxes = ['read', 'catalog:write', 'site:write', 'admin'].map((s) => {
    const box = h('input', {
      type: 'checkbox',
      value: s,
      id: `scope-${s.replace(':', '-')}`,
      checked: s === 'read',
    });
    return { box, el: h('div', { class: 'check' }, box, h('label', { for: box.id }, s)) };
  });
  const form = h(
    'form',
    { class: 'stack' },
    h('h2', null, `New token for ${user}`),
    field('Label', label),
    field('Valid for (days)', days),
    h(
      'fieldset',
      null,
      h('legend', null, 'Scopes'),
      scopeBoxes.map((s) => s.el),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Create token'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const created = await post<{ token: string; expiresAt: string }>('/tokens', {
        ...(own ? {} : { user }),
        label: label.value,
        ttlSeconds: Math.round(Number(days.value) * 86_400),
        scopes: scopeBoxes.filter((s) => s.box.checked).map((s) => s.box.value),
      });
      await refresh();
      document
        .querySelector('.token-flash')
        ?.replaceChildren(
          notice(['Token created; copy it now, it is not shown again: ', mono(created.token)], 'good'),
        );
    } catch (err) {
      replace(flash, notice(`Token not created: ${describe(err)}`, 'bad', 'alert'));
    }
  });
  const revoke = async (t: TokenView) => {
    const ok = await confirmAction(
      'Revoke this token?',
      h(
        'p',
        null,
        t.current
          ? 'This is the token of your current session: revoking it signs you out.'
          : `Anything using the token "${t.label || t.id}" loses access at once.`,
      ),
      'Revoke',
    );
    if (!ok) return;
    try {
      await api('DELETE', `/tokens/${t.id}`);
      await refresh();
    } catch (err) {
      replace(flash, notice(describe(err), 'bad', 'alert'));
    }
  };
  return [
    h('h1', null, own ? 'Your tokens' : `Tokens of ${user}`),
    h('div', { class: 'token-flash', 'aria-live': 'polite' }),
    flash,
    h(
      'section',
      { class: 'card' },
      tokens.length === 0
        ? empty('No tokens.')
        : pager({
            items: tokens.slice().reverse(),
            label: 'tokens',
            emptyText: 'No token matches the filter.',
            text: (t) => `${t.label} ${t.id} ${t.scopes.join(' ')}`,
            render: (items) =>
              dataTable(
                [
                  'Label',
                  'Scopes',
                  'Created',
                  'Expires',
                  'State',
                  h('span', { class: 'sr-only' }, 'Actions'),
                ],
                items.map((t) =>
                  h(
                    'tr',
                    null,
                    h(
                      'td',
                      null,
                      t.label || mono(t.id),
                      t.current ? [' ', badge('this session', 'neutral')] : null,
                    ),
                    h('td', null, t.scopes.join(', ')),
                    h('td', null, when(t.createdAt)),
                    h('td', null, relative(t.expiresAt)),
                    h(
                      'td',
                      null,
                      t.active
                        ? badge('active', 'good')
                        : badge(t.revokedAt ? 'revoked' : 'expired', 'neutral'),
                    ),
                    h(
                      'td',
                      null,
                      t.active
                        ? h(
                            'button',
                            { type: 'button', class: 'danger', onclick: () => void revoke(t) },
                            'Revoke',
                          )
                        : null,
                    ),
                  ),
                ),
              ),
          }),
    ),
    h('section', { class: 'card' }, form),
  ];
}
