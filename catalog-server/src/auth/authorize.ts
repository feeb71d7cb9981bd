// Who may do what: every write names an action; a caller needs a role that allows it (for site
// actions, on that site) AND a token scope that covers it. Fails closed.
import { forbidden } from '../errors.js';
import type { Role, RoleBinding, UserRecord } from '../storage/users-repo.js';

export const scopes = ['read', 'catalog:write', 'site:write', 'admin'] as const;
export type Scope = (typeof scopes)[number];

export const actions = [
  'user.manage',
  'audit.read',
  'site.create',
  'site.signer',
  'site.trust',
  'site.approve',
  'site.export',
  'site.import',
  'catalog.write',
  'read',
] as const;
export type Action = (typeof actions)[number];

type RoleCheck = (binding: RoleBinding, site: string | undefined) => boolean;
const is =
  (...allowed: Role[]): RoleCheck =>
  (b) =>
    allowed.includes(b.role);
const adminOrSiteAdmin: RoleCheck = (b, site) =>
  b.role === 'admin' || (b.role === 'site-admin' && site !== undefined && b.site === site);

const rules: Record<Action, { scope: Scope; role: RoleCheck }> = {
  'user.manage': { scope: 'admin', role: is('admin') },
  'audit.read': { scope: 'admin', role: is('admin') },
  'site.create': { scope: 'admin', role: is('admin') },
  'site.signer': { scope: 'admin', role: is('admin') },
  'site.import': { scope: 'admin', role: is('admin') },
  'site.trust': { scope: 'site:write', role: adminOrSiteAdmin },
  'site.approve': { scope: 'site:write', role: adminOrSiteAdmin },
  'site.export': { scope: 'site:write', role: adminOrSiteAdmin },
  'catalog.write': { scope: 'catalog:write', role: is('endorser') },
  read: { scope: 'read', role: () => true },
};

export interface Principal {
  user: UserRecord;
  scopes: Scope[];
  tokenId: string;
}

export function isAllowed(principal: Principal, action: Action, site?: string): boolean {
  const rule = rules[action];
  if (principal.user.disabled) return false;
  const scopeOk =
    rule.scope === 'read' || principal.scopes.includes(rule.scope) || principal.scopes.includes('admin');
  const roleOk = principal.user.roles.some((b) => rule.role(b, site));
  return scopeOk && roleOk;
}

export function authorize(principal: Principal, action: Action, site?: string): void {
  if (!isAllowed(principal, action, site)) {
    throw forbidden(`user ${principal.user.name} may not ${action}${site ? ` on site ${site}` : ''}`);
  }
}

/** The scopes a user's roles can grant to a token. */
export function grantableScopes(user: UserRecord): Scope[] {
  const granted = new Set<Scope>(['read']);
  for (const b of user.roles) {
    if (b.role === 'admin') for (const s of scopes) granted.add(s);
    if (b.role === 'endorser') granted.add('catalog:write');
    if (b.role === 'site-admin') granted.add('site:write');
  }
  return scopes.filter((s) => granted.has(s));
}
