// The web UI's shell: hash routes, the page frame with navigation, sign-in gate and sign-out.
import { ApiError, api, describe, get } from './api.js';
import { type Child, h, notice, replace } from './dom.js';
import { currentPath, setRenderer } from './nav.js';
import { agentsPage } from './pages/agents.js';
import { approvalsPage } from './pages/approvals.js';
import { auditPage } from './pages/audit.js';
import { catalogPage, catalogsPage } from './pages/catalogs.js';
import { dashboardPage } from './pages/dashboard.js';
import { draftPage, draftsPage } from './pages/drafts.js';
import { loginPage, oidcReturn } from './pages/login.js';
import { sitesPage } from './pages/sites.js';
import { tokensPage } from './pages/tokens.js';
import { trustPage } from './pages/trust.js';
import { usersPage } from './pages/users.js';
import {
  clearSession,
  currentUser,
  isAdmin,
  isEndorser,
  type Me,
  setCurrentUser,
  token,
  tokenId,
} from './session.js';
import type { Params } from './types.js';

type Page = (params: Params) => Promise<Child>;

const routes: [RegExp, Page][] = [
  [/^\/$/, dashboardPage],
  [/^\/catalogs$/, catalogsPage],
  [/^\/catalogs\/(?<id>[0-9a-f-]{36})$/, catalogPage],
  [/^\/catalogs\/(?<id>[0-9a-f-]{36})\/v\/(?<version>\d+)$/, catalogPage],
  [/^\/catalogs\/(?<id>[0-9a-f-]{36})\/draft$/, draftPage],
  [/^\/drafts$/, draftsPage],
  [/^\/sites$/, sitesPage],
  [/^\/sites\/(?<site>[^/]+)\/approvals$/, approvalsPage],
  [/^\/sites\/(?<site>[^/]+)\/trust$/, trustPage],
  [/^\/sites\/(?<site>[^/]+)\/agents$/, agentsPage],
  [/^\/audit$/, auditPage],
  [/^\/users$/, usersPage],
  [/^\/tokens$/, tokensPage],
];

const main = () => document.getElementById('main') as HTMLElement;

function navLink(path: string, label: string) {
  const here = currentPath();
  const isDraft = /^\/catalogs\/[^/]+\/draft$/.test(here);
  const active =
    path === '/'
      ? here === '/'
      : path === '/drafts'
        ? here === path || isDraft
        : !isDraft && (here === path || here.startsWith(`${path}/`));
  return h('a', { href: `#${path}`, ...(active ? { 'aria-current': 'page' } : {}) }, label);
}

function frame(me: Me) {
  const links = [
    navLink('/', 'Dashboard'),
    navLink('/catalogs', 'Catalogs'),
    navLink('/sites', 'Sites & approvals'),
    isEndorser(me) ? navLink('/drafts', 'Drafts') : null,
    isAdmin(me) ? navLink('/audit', 'Audit log') : null,
    isAdmin(me) ? navLink('/users', 'Users') : null,
    navLink('/tokens', 'Tokens'),
  ];
  const signOut = h(
    'button',
    { type: 'button', class: 'secondary', id: 'sign-out', onclick: () => void logout() },
    'Sign out',
  );
  replace(
    document.getElementById('top') as HTMLElement,
    h('a', { href: '#/', class: 'brand' }, 'TrustSwarm'),
    h('nav', { class: 'main-nav', 'aria-label': 'Main' }, links),
    h('div', { class: 'who' }, h('span', { id: 'who' }, me.name), signOut),
  );
}

async function logout(message = 'You are signed out.') {
  const id = tokenId();
  if (id) {
    try {
      await api('DELETE', `/tokens/${id}`);
    } catch {
      // the session may already be gone; sign out locally anyway
    }
  }
  clearSession();
  showLogin(message);
}

function showLogin(message?: string, error = false) {
  replace(document.getElementById('top') as HTMLElement, h('span', { class: 'brand' }, 'TrustSwarm'));
  replace(
    main(),
    loginPage(message ? { text: message, error } : undefined, () => void render()),
  );
  document.title = 'Sign in · TrustSwarm';
  main().querySelector('input')?.focus();
}

async function render(): Promise<void> {
  if (!token()) return showLogin();
  let me = currentUser();
  if (!me) {
    try {
      me = await get<Me>('/me');
      setCurrentUser(me);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401)
        return showLogin('Your session ended; please sign in again.');
      replace(main(), notice(`Cannot reach the server: ${describe(err)}`, 'bad', 'alert'));
      return;
    }
  }
  frame(me);
  const fullPath = currentPath();
  const path = fullPath.split('?')[0] ?? '/';
  const route = routes.find(([re]) => re.test(path));
  const target = main();
  replace(target, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  let content: Child;
  if (!route) content = [h('h1', { tabindex: '-1' }, 'Not found'), notice(`No page ${path}.`, 'warn')];
  else {
    const params = { ...(route[0].exec(path)?.groups ?? {}) };
    try {
      content = await route[1](params);
    } catch (err) {
      if (!token()) return showLogin('Your session ended; please sign in again.');
      content = [h('h1', { tabindex: '-1' }, 'Something went wrong'), notice(describe(err), 'bad', 'alert')];
    }
  }
  if (currentPath() !== fullPath) return; // the user moved on while this page loaded
  replace(target, content);
  const heading = target.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    document.title = `${heading.textContent ?? ''} · TrustSwarm`;
    heading.focus({ preventScroll: true });
  }
}

setRenderer(render);
window.addEventListener('hashchange', () => void render());
window.addEventListener('tsw:signed-out', (event) => showLogin((event as CustomEvent<string>).detail));
oidcReturn().then(
  () => void render(),
  (err: unknown) => showLogin(`OIDC sign-in failed: ${describe(err)}`, true),
);
