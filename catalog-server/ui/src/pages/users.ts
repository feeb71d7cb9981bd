// Users (admin): the list with roles and second factor, enable/disable, and creating a user
// (the TOTP secret is shown once).
import { api, describe, get, post } from '../api.js';
import { badge, dataTable, empty, field, h, mono, notice, replace } from '../dom.js';
import { refresh } from '../nav.js';
import { pager } from '../pager.js';
import type { Params, UserView } from '../types.js';

const roleText = (r: { role: string; site?: string }) => (r.site ? `${r.role}:${r.site}` : r.role);

export async function usersPage(_params: Params) {
  const users = await get<UserView[]>('/users');
  const flash = h('div', { 'aria-live': 'polite' });
  const name = h('input', { required: true, autocomplete: 'off' });
  const password = h('input', { type: 'password', autocomplete: 'new-password', minlength: '12' });
  const role = h(
    'select',
    null,
    ['reader', 'site-admin', 'endorser', 'admin'].map((r) => h('option', { value: r }, r)),
  );
  const site = h('input', { placeholder: 'for site-admin' });
  const identity = h('input', { placeholder: 'hex(issuer)|hex(subject), for endorser' });
  const totp = h('input', { type: 'checkbox', checked: true, id: 'new-user-totp' });
  const form = h(
    'form',
    { class: 'stack' },
    h('h2', null, 'Add a user'),
    field('Name', name),
    field('Password (12 characters or more)', password),
    field('Role', role),
    field('Site', site),
    field('Endorser identity', identity),
    h(
      'div',
      { class: 'check' },
      totp,
      h('label', { for: 'new-user-totp' }, 'Require a one-time code (TOTP)'),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Add user'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const binding =
      role.value === 'site-admin' ? { role: role.value, site: site.value.trim() } : { role: role.value };
    try {
      const created = await post<{ name: string; totpSecret?: string; totpUri?: string }>('/users', {
        name: name.value.trim(),
        ...(password.value ? { password: password.value } : {}),
        roles: [binding],
        ...(identity.value ? { endorserIdentity: identity.value.trim() } : {}),
        ...(totp.checked ? { totp: true } : {}),
      });
      replace(
        flash,
        notice(
          [
            `User ${created.name} added.`,
            created.totpSecret
              ? [
                  ' Give them this TOTP secret now; it is not shown again: ',
                  mono(created.totpSecret),
                  h('br'),
                  mono(created.totpUri ?? ''),
                ]
              : null,
          ],
          'good',
        ),
      );
      form.reset();
    } catch (err) {
      replace(flash, notice(`User not added: ${describe(err)}`, 'bad', 'alert'));
    }
  });
  const toggle = async (u: UserView) => {
    try {
      await api('PATCH', `/users/${encodeURIComponent(u.name)}`, { body: { disabled: !u.disabled } });
      await refresh();
    } catch (err) {
      replace(flash, notice(describe(err), 'bad', 'alert'));
    }
  };
  return [
    h('h1', null, 'Users'),
    flash,
    h(
      'section',
      { class: 'card' },
      users.length === 0
        ? empty('No users.')
        : pager({
            items: users,
            label: 'users',
            emptyText: 'No user matches the filter.',
            text: (u) => `${u.name} ${u.roles.map(roleText).join(' ')}`,
            render: (items) =>
              dataTable(
                ['Name', 'Roles', 'Second factor', 'State', h('span', { class: 'sr-only' }, 'Actions')],
                items.map((u) =>
                  h(
                    'tr',
                    null,
                    h('td', null, u.name),
                    h('td', null, u.roles.map(roleText).join(', ')),
                    h('td', null, u.totp ? badge('TOTP', 'good') : badge('password only', 'warn')),
                    h('td', null, u.disabled ? badge('disabled', 'bad') : badge('active', 'good')),
                    h(
                      'td',
                      null,
                      h(
                        'button',
                        { type: 'button', class: 'secondary', onclick: () => void toggle(u) },
                        u.disabled ? 'Enable' : 'Disable',
                      ),
                      ' ',
                      h('a', { href: `#/tokens?user=${encodeURIComponent(u.name)}` }, 'tokens'),
                    ),
                  ),
                ),
              ),
          }),
    ),
    h('section', { class: 'card' }, form),
  ];
}
