// Login, TOTP, tokens (scoped, expiring, revocable), rate limits and the audit endpoints.
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { totpCode } from '../src/auth/totp.js';
import { appFor, bearer, openTestServices, type TestServices, userWithToken } from './helpers.js';

describe('authentication', () => {
  let t: TestServices;
  let app: FastifyInstance;
  let now: number;
  let adminToken: string;
  beforeEach(async () => {
    now = Date.parse('2026-11-22T12:00:00Z');
    t = await openTestServices('sqlite', { auth: { loginAttemptsPerMinute: 3 } }, () => new Date(now));
    app = await appFor(t);
    adminToken = await userWithToken(t.services, 'root', [{ role: 'admin' }]);
  });
  afterEach(async () => {
    await app.close();
    await t.cleanup();
  });

  const login = (payload: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/login', payload });

  it('logs in with password and TOTP, and refuses a wrong or missing code', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(adminToken),
      payload: { name: 'sam', password: 'correct horse battery', roles: [{ role: 'reader' }], totp: true },
    });
    expect(created.statusCode).toBe(201);
    const secret = created.json().totpSecret as string;
    expect(created.json().totpUri).toMatch(/^otpauth:\/\/totp\//);
    expect((await login({ name: 'sam', password: 'correct horse battery' })).statusCode).toBe(401);
    const wrong = totpCode(secret, now) === '000000' ? '111111' : '000000';
    expect((await login({ name: 'sam', password: 'correct horse battery', totp: wrong })).statusCode).toBe(
      401,
    );
    const ok = await login({ name: 'sam', password: 'correct horse battery', totp: totpCode(secret, now) });
    expect(ok.statusCode).toBe(200);
    const me = await app.inject({ url: '/api/v1/me', headers: bearer(ok.json().token) });
    expect(me.json()).toMatchObject({ name: 'sam', scopes: ['read'] });
  });

  it('rate-limits login attempts per client and name', async () => {
    await t.services.accounts.createUser(
      { name: 'pat', password: 'a long enough password', roles: [{ role: 'reader' }] },
      'test',
    );
    const codes: number[] = [];
    for (let i = 0; i < 5; i++)
      codes.push((await login({ name: 'pat', password: 'wrong password!' })).statusCode);
    expect(codes).toEqual([401, 401, 401, 429, 429]);
    const limited = await login({ name: 'pat', password: 'a long enough password' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
  });

  it('refuses an unknown, expired or revoked token', async () => {
    expect(
      (await app.inject({ url: '/api/v1/me', headers: bearer('tsw_0123456789abcdef.x') })).statusCode,
    ).toBe(401);
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(adminToken),
      payload: { scopes: ['read'], ttlSeconds: 60 },
    });
    expect(created.statusCode).toBe(201);
    const { token, id } = created.json() as { token: string; id: string };
    expect((await app.inject({ url: '/api/v1/me', headers: bearer(token) })).statusCode).toBe(200);
    now += 61_000;
    expect((await app.inject({ url: '/api/v1/me', headers: bearer(token) })).statusCode).toBe(401);
    now -= 61_000;
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${id}`,
      headers: bearer(adminToken),
    });
    expect(revoked.statusCode).toBe(204);
    expect((await app.inject({ url: '/api/v1/me', headers: bearer(token) })).statusCode).toBe(401);
  });

  it('disabling a user stops its tokens at once; roles can be changed', async () => {
    const token = await userWithToken(t.services, 'dana', [{ role: 'reader' }]);
    const patch = (payload: object) =>
      app.inject({ method: 'PATCH', url: '/api/v1/users/dana', headers: bearer(adminToken), payload });
    expect((await patch({ disabled: true })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/me', headers: bearer(token) })).statusCode).toBe(401);
    const changed = await patch({ disabled: false, roles: [{ role: 'site-admin', site: 'S1' }] });
    expect(changed.json()).toMatchObject({ disabled: false, roles: [{ role: 'site-admin', site: 'S1' }] });
    expect((await app.inject({ url: '/api/v1/me', headers: bearer(token) })).json().roles).toEqual([
      { role: 'site-admin', site: 'S1' },
    ]);
    const endorserWithoutIdentity = await patch({ roles: [{ role: 'endorser' }] });
    expect(endorserWithoutIdentity.statusCode).toBe(400);
    expect(endorserWithoutIdentity.json().error.code).toBe('ENDORSER_IDENTITY_REQUIRED');
    const missing = await app.inject({
      method: 'PATCH',
      url: '/api/v1/users/nobody',
      headers: bearer(adminToken),
      payload: { disabled: true },
    });
    expect(missing.statusCode).toBe(404);
  });

  it('stores only a hash of the token secret', async () => {
    const token = await userWithToken(t.services, 'erin', [{ role: 'reader' }]);
    const secret = token.split('.')[1] as string;
    const rows = await t.db.all<{ secret_hash: string }>('SELECT secret_hash FROM tokens');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.secret_hash).not.toContain(secret);
  });

  it('refuses a token scope the user’s roles cannot hold', async () => {
    const readerToken = await userWithToken(t.services, 'rita', [{ role: 'reader' }]);
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(readerToken),
      payload: { scopes: ['site:write'] },
    });
    expect(response.statusCode).toBe(403);
  });

  it('a read-only token of an admin cannot manage users', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(adminToken),
      payload: { scopes: ['read'] },
    });
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(created.json().token),
      payload: { name: 'x', roles: [{ role: 'reader' }] },
    });
    expect(response.statusCode).toBe(403);
  });

  it('audits writes and verifies the chain over the API, detecting an edit', async () => {
    await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(adminToken),
      payload: { name: 'newbie', roles: [{ role: 'reader' }] },
    });
    const log = await app.inject({ url: '/api/v1/audit', headers: bearer(adminToken) });
    expect(log.json().map((r: { action: string }) => r.action)).toContain('user.create');
    const ok = await app.inject({ url: '/api/v1/audit/verify', headers: bearer(adminToken) });
    expect(ok.json()).toMatchObject({ ok: true });
    await t.db.run("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1");
    const broken = await app.inject({ url: '/api/v1/audit/verify', headers: bearer(adminToken) });
    expect(broken.statusCode).toBe(409);
    expect(broken.json()).toMatchObject({ ok: false, brokenAtSeq: 1 });
  });
});
