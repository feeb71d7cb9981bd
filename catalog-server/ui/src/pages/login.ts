// Sign-in: name, password and the one-time code (TOTP), or OIDC when the server offers it.
import { ApiError, describe, get, post } from '../api.js';
import { field, h, notice, replace } from '../dom.js';
import { setToken } from '../session.js';

interface Methods {
  password: boolean;
  oidc: { issuer: string; clientId: string } | null;
}

const oidcStateKey = 'tsw.oidc';

export function explainLoginError(err: unknown): string {
  if (err instanceof ApiError && err.status === 401)
    return 'Sign-in refused: the user name, password or one-time code is wrong. Codes change every 30 seconds: use the one your authenticator shows now.';
  if (err instanceof ApiError && err.status === 429)
    return 'Too many sign-in attempts for this name. Wait a minute, then try again.';
  return `Sign-in failed: ${describe(err)}`;
}

export function loginPage(
  message: { text: string; error: boolean } | undefined,
  signedIn: () => void,
): HTMLElement {
  const name = h('input', { name: 'name', autocomplete: 'username', required: true, maxlength: '64' });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const code = h('input', {
    name: 'totp',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
    maxlength: '6',
  });
  const status = h(
    'div',
    { class: 'login-status' },
    message
      ? notice(message.text, message.error ? 'bad' : 'neutral', message.error ? 'alert' : 'status')
      : null,
  );
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'login', novalidate: true },
    field('User name', name),
    field('Password', password),
    field(
      'One-time code',
      code,
      'Six digits from your authenticator app; leave empty if your account has none.',
    ),
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!name.value || !password.value) {
      replace(status, notice('Enter your user name and password.', 'bad', 'alert'));
      return;
    }
    submit.disabled = true;
    replace(status, notice('Signing in…'));
    try {
      const body = {
        name: name.value,
        password: password.value,
        ...(code.value ? { totp: code.value.trim() } : {}),
      };
      const { token } = await post<{ token: string }>('/auth/login', body);
      setToken(token);
      signedIn();
    } catch (err) {
      replace(status, notice(explainLoginError(err), 'bad', 'alert'));
      password.value = '';
      code.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  const oidcSlot = h('div', { class: 'oidc' });
  void get<Methods>('/auth/methods').then(
    (methods) => {
      if (!methods.oidc) return;
      const oidc = methods.oidc;
      replace(
        oidcSlot,
        h('p', { class: 'or' }, 'or'),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: () => void startOidc(oidc.issuer, oidc.clientId, status),
          },
          `Sign in with ${new URL(oidc.issuer).host}`,
        ),
      );
    },
    () => undefined,
  );
  return h(
    'section',
    { class: 'card narrow' },
    h('h1', null, 'Sign in'),
    h('p', null, 'TrustSwarm catalog server: endorsers, site admins and auditors sign in here.'),
    status,
    form,
    oidcSlot,
  );
}

const randomText = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

async function startOidc(issuer: string, clientId: string, status: HTMLElement) {
  try {
    const discovery = (await (
      await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)
    ).json()) as {
      authorization_endpoint?: string;
    };
    if (!discovery.authorization_endpoint) throw new Error('the issuer names no authorization endpoint');
    const state = randomText();
    const nonce = randomText();
    sessionStorage.setItem(oidcStateKey, JSON.stringify({ state, nonce }));
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'id_token',
      client_id: clientId,
      redirect_uri: `${location.origin}/ui/`,
      scope: 'openid profile',
      state,
      nonce,
    }).toString();
    location.assign(url.toString());
  } catch (err) {
    replace(status, notice(`OIDC sign-in failed: ${describe(err)}`, 'bad', 'alert'));
  }
}

function payloadOf(jwt: string): { nonce?: string } {
  const part = jwt.split('.')[1] ?? '';
  return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { nonce?: string };
}

/** Completes an OIDC sign-in when the issuer sent us back with #id_token=…&state=…. */
export async function oidcReturn(): Promise<void> {
  if (!location.hash.includes('id_token=')) return;
  const answer = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, '', `${location.pathname}#/`);
  const expected = JSON.parse(sessionStorage.getItem(oidcStateKey) ?? '{}') as {
    state?: string;
    nonce?: string;
  };
  sessionStorage.removeItem(oidcStateKey);
  const idToken = answer.get('id_token') ?? '';
  if (!expected.state || answer.get('state') !== expected.state)
    throw new Error('the answer does not belong to this sign-in (state differs)');
  if (payloadOf(idToken).nonce !== expected.nonce)
    throw new Error('the ID token was not issued for this sign-in (nonce differs)');
  const { token } = await post<{ token: string }>('/auth/oidc', { idToken });
  setToken(token);
}
