// The session token lives in sessionStorage: it is sent only as an Authorization header (so
// no cross-site request can carry it: no CSRF), it dies with the tab, and the CSP allows only
// our own scripts to read it.
const key = 'tsw.session';

export interface Me {
  name: string;
  roles: { role: string; site?: string }[];
  scopes: string[];
}

let me: Me | null = null;

export const token = (): string | null => sessionStorage.getItem(key);

export function setToken(value: string): void {
  sessionStorage.setItem(key, value);
  me = null;
}

export function clearSession(): void {
  sessionStorage.removeItem(key);
  me = null;
}

/** The token id part of "tsw_<id>.<secret>", used to revoke the session on sign-out. */
export function tokenId(): string | null {
  return /^tsw_([0-9a-f]{16})\./.exec(token() ?? '')?.[1] ?? null;
}

export const currentUser = () => me;
export const setCurrentUser = (value: Me) => {
  me = value;
};

export const isAdmin = (u: Me | null) => !!u?.roles.some((r) => r.role === 'admin');
export const isEndorser = (u: Me | null) => !!u?.roles.some((r) => r.role === 'endorser');
export const canApprove = (u: Me | null, site: string) =>
  isAdmin(u) || !!u?.roles.some((r) => r.role === 'site-admin' && r.site === site);
