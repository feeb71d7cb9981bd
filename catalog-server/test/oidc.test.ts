// OIDC login: ID tokens verified against the issuer's JWKS served on a local port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFor, bearer, openTestServices, type TestServices } from './helpers.js';

const issuer = 'https://idp.example.org';
const audience = 'tsw-catalog';
type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

describe('OIDC login', () => {
  let jwksServer: Server;
  let t: TestServices;
  let app: FastifyInstance;
  let key: SigningKey;
  let rogueKey: SigningKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    rogueKey = (await generateKeyPair('RS256')).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    t = await openTestServices('sqlite', {
      auth: { oidcIssuer: issuer, oidcJwksUrl: jwksUrl, oidcAudience: audience },
    });
    app = await appFor(t);
    await t.services.accounts.createUser({ name: 'olivia', roles: [{ role: 'reader' }] }, 'test');
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  });

  const idToken = (
    claims: Record<string, unknown>,
    options: { aud?: string; exp?: string; signer?: SigningKey } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(options.aud ?? audience)
      .setIssuedAt()
      .setExpirationTime(options.exp ?? '5m')
      .sign(options.signer ?? key);
  const login = async (token: string) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/oidc', payload: { idToken: token } });

  it('logs a local account in with a valid ID token', async () => {
    const response = await login(await idToken({ preferred_username: 'olivia' }));
    expect(response.statusCode).toBe(200);
    const me = await app.inject({ url: '/api/v1/me', headers: bearer(response.json().token) });
    expect(me.json()).toMatchObject({ name: 'olivia', roles: [{ role: 'reader' }] });
  });

  it('refuses a wrong audience, an expired token, a foreign signature and a missing claim', async () => {
    const cases = [
      await idToken({ preferred_username: 'olivia' }, { aud: 'someone-else' }),
      await idToken({ preferred_username: 'olivia' }, { exp: '-1m' }),
      await idToken({ preferred_username: 'olivia' }, { signer: rogueKey }),
      await idToken({ sub: 'x' }),
      'not.a.jwt',
    ];
    for (const token of cases) {
      const response = await login(token);
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses a valid token for a name without a local account', async () => {
    const response = await login(await idToken({ preferred_username: 'mallory' }));
    expect(response.statusCode).toBe(403);
  });
});
