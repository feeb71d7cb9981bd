// OIDC sign-in in chromium: the sign-in page offers the issuer, the browser goes to its
// authorization endpoint and comes back with an ID token (state and nonce checked), the server
// verifies it against the issuer's JWKS. A forged answer is refused with its reason.
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { uiPlugin } from '../../src/ui/plugin.js';
import { buildUi, chromiumArgs, chromiumPath, requireChromium } from './fixture.js';

const audience = 'tsw-ui';
const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));

describe('OIDC sign-in in the web UI (chromium)', () => {
  let idp: Server;
  let issuer: string;
  let server: RunningServer;
  let browser: Browser;
  let dir: string;
  let scriptsDir: string;

  beforeAll(async () => {
    requireChromium();
    mkdirSync(artifacts, { recursive: true });
    scriptsDir = await buildUi();
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    // a minimal issuer: discovery, JWKS, and an authorization endpoint that signs in "olivia" at once
    idp = createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', issuer);
      res.setHeader('access-control-allow-origin', '*');
      if (url.pathname === '/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            jwks_uri: `${issuer}/jwks.json`,
          }),
        );
      } else if (url.pathname === '/jwks.json') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      } else if (url.pathname === '/authorize') {
        const q = url.searchParams;
        const idToken = await new SignJWT({ preferred_username: 'olivia', nonce: q.get('nonce') ?? '' })
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
          .setIssuer(issuer)
          .setAudience(q.get('client_id') ?? '')
          .setSubject('olivia-sub')
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey);
        const back = new URLSearchParams({ id_token: idToken, state: q.get('state') ?? '' });
        res.writeHead(302, { location: `${q.get('redirect_uri')}#${back}` });
        res.end();
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'tsw-ui-oidc-'));
    const config = loadConfig({
      overrides: {
        server: { port: 0 },
        storage: { sqlitePath: join(dir, 'catalog.db') },
        blobs: { directory: join(dir, 'blobs') },
        auth: { oidcIssuer: issuer, oidcJwksUrl: `${issuer}/jwks.json`, oidcAudience: audience },
      },
    });
    server = await startServer(config, { ui: uiPlugin({ scriptsDir }) });
    await server.services.accounts.createUser({ name: 'olivia', roles: [{ role: 'reader' }] }, 'test');
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await new Promise<void>((resolve) => (idp ? idp.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
    if (scriptsDir) await rm(scriptsDir, { recursive: true, force: true });
  });

  it('signs in through the issuer and lands on the dashboard as the local account', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/ui/`);
    await page.getByRole('button', { name: `Sign in with 127.0.0.1:${new URL(issuer).port}` }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    expect(await page.locator('#who').textContent()).toBe('olivia');
    expect(page.url()).toBe(`${server.url}/ui/#/`);
    // a new server: every dashboard card says what is missing and who fixes it
    const main = page.locator('main');
    await expect(main.textContent()).resolves.toContain('No catalog has been published yet');
    await expect(main.textContent()).resolves.toContain('No site exists yet');
    await expect(main.textContent()).resolves.toContain('No catalogued artifact has a torrent yet');
    await page.screenshot({ path: join(artifacts, 'desktop-dashboard-empty.png'), fullPage: true });
    await page.close();
  });

  it('refuses an answer that does not belong to a sign-in it started', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/ui/#id_token=a.b.c&state=forged`);
    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      'OIDC sign-in failed: the answer does not belong to this sign-in (state differs)',
    );
    expect(await page.evaluate("sessionStorage.getItem('tsw.session')")).toBeNull();
    await page.close();
  });
});
