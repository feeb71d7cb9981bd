// The authorisation matrix: every write (and admin-only read) × every role, allowed or refused.
// "Allowed" means the request passed authorisation (2xx, or 409 when an earlier allowed role
// already made the same change); "refused" means 403 (401 without a token).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityOf, serializeDocument, signDetached } from '@trustswarm/policy';
import { createTestPki, makeCatalog, makeEntry, type TestPki } from '@trustswarm/policy/testing';
import createTorrent from 'create-torrent';
import type { FastifyInstance, InjectOptions } from 'fastify';
import parseTorrent from 'parse-torrent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFor, backends, bearer, openTestServices, type TestServices, userWithToken } from './helpers.js';

const roleNames = ['admin', 'endorser', 'siteAdminA', 'siteAdminB', 'reader', 'anonymous'] as const;
type RoleName = (typeof roleNames)[number];

async function multipart(catalog: Buffer, signature: Buffer) {
  const form = new FormData();
  form.append('catalog', new Blob([catalog]), 'catalog.yaml');
  form.append('signature', new Blob([signature]), 's.p7s');
  const request = new Request('http://x/', { method: 'POST', body: form });
  return {
    contentType: request.headers.get('content-type') ?? '',
    body: Buffer.from(await request.arrayBuffer()),
  };
}

describe.each(backends)('authorisation matrix on %s', (backend) => {
  let pki: TestPki;
  let t: TestServices;
  let app: FastifyInstance;
  const tokens = new Map<RoleName, string>();
  const catalog = makeCatalog({ entries: [makeEntry()] });
  const catalogBytes = serializeDocument(catalog);
  const entryId = catalog.entries[0]?.id ?? '';
  let otherTokenId = '';
  let torrent: Buffer;
  let infoHash: string;
  let exportArchive: Buffer;

  beforeAll(async () => {
    pki = await createTestPki(await mkdtemp(join(tmpdir(), 'tsw-pki-')));
    t = await openTestServices(backend, { trust: { caPath: pki.caPathDir } });
    app = await appFor(t);
    const s = t.services;
    tokens.set('admin', await userWithToken(s, 'admin', [{ role: 'admin' }]));
    tokens.set(
      'endorser',
      await userWithToken(s, 'endorser', [{ role: 'endorser' }], {
        endorserIdentity: identityOf(pki.endorsers.alice.certificate).key,
      }),
    );
    tokens.set('siteAdminA', await userWithToken(s, 'siteadmin-a', [{ role: 'site-admin', site: 'SITE-A' }]));
    tokens.set('siteAdminB', await userWithToken(s, 'siteadmin-b', [{ role: 'site-admin', site: 'SITE-B' }]));
    tokens.set('reader', await userWithToken(s, 'reader', [{ role: 'reader' }]));
    const { user } = await s.accounts.createUser({ name: 'victim', roles: [{ role: 'reader' }] }, 'test');
    otherTokenId = (await s.accounts.createToken(user, {}, 'test')).record.id;
    const admin = { ...bearer(tokens.get('admin') ?? '') };
    await app.inject({ method: 'POST', url: '/api/v1/sites', headers: admin, payload: { name: 'SITE-A' } });
    const { body, contentType } = await multipart(
      catalogBytes,
      signDetached(catalogBytes, pki.endorsers.alice),
    );
    const published = await app.inject({
      method: 'POST',
      url: '/api/v1/catalogs',
      headers: { ...bearer(tokens.get('endorser') ?? ''), 'content-type': contentType },
      payload: body,
    });
    expect(published.statusCode).toBe(201);
    torrent = await new Promise<Buffer>((resolve, reject) =>
      createTorrent(
        Object.assign(randomBytes(1000), { name: 'a' }),
        { announceList: [['http://127.0.0.1:1/announce']] },
        (err, tb) => (err ? reject(err) : resolve(Buffer.from(tb))),
      ),
    );
    infoHash = (await parseTorrent(torrent)).infoHash;
    exportArchive = (await app.inject({ url: '/api/v1/sites/SITE-A/export', headers: admin })).rawPayload;
  });
  afterAll(async () => {
    await rm(pki.dir, { recursive: true, force: true });
    await app.close();
    await t.cleanup();
  });

  const artifact = Buffer.from('artifact bytes');
  const artifactSha = createHash('sha256').update(artifact).digest('hex');

  // every write of the API, with who may do it
  const writes: {
    name: string;
    allowed: RoleName[];
    request: (role: RoleName) => Promise<InjectOptions> | InjectOptions;
  }[] = [
    {
      name: 'create user',
      allowed: ['admin'],
      request: (r) => ({
        method: 'POST',
        url: '/api/v1/users',
        payload: { name: `u-${r}`, roles: [{ role: 'reader' }] },
      }),
    },
    {
      name: 'update user',
      allowed: ['admin'],
      request: () => ({ method: 'PATCH', url: '/api/v1/users/victim', payload: { disabled: false } }),
    },
    { name: 'list users', allowed: ['admin'], request: () => ({ method: 'GET', url: '/api/v1/users' }) },
    {
      name: 'token for another user',
      allowed: ['admin'],
      request: () => ({
        method: 'POST',
        url: '/api/v1/tokens',
        payload: { user: 'victim', scopes: ['read'] },
      }),
    },
    {
      name: 'token for oneself',
      allowed: ['admin', 'endorser', 'siteAdminA', 'siteAdminB', 'reader'],
      request: () => ({ method: 'POST', url: '/api/v1/tokens', payload: { scopes: ['read'] } }),
    },
    {
      name: 'revoke another user’s token',
      allowed: ['admin'],
      request: () => ({ method: 'DELETE', url: `/api/v1/tokens/${otherTokenId}` }),
    },
    { name: 'read audit log', allowed: ['admin'], request: () => ({ method: 'GET', url: '/api/v1/audit' }) },
    {
      name: 'verify audit chain',
      allowed: ['admin'],
      request: () => ({ method: 'GET', url: '/api/v1/audit/verify' }),
    },
    {
      name: 'create site',
      allowed: ['admin'],
      request: (r) => ({ method: 'POST', url: '/api/v1/sites', payload: { name: `S-${r}` } }),
    },
    {
      name: 'set site signer',
      allowed: ['admin'],
      request: () => ({
        method: 'PUT',
        url: '/api/v1/sites/SITE-A/signer',
        payload: { certificatePem: pki.site.certificatePem, privateKeyPem: pki.site.privateKeyPem },
      }),
    },
    {
      name: 'set threshold',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({ method: 'PUT', url: '/api/v1/sites/SITE-A/threshold', payload: { threshold: 1 } }),
    },
    {
      name: 'add endorser',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/endorsers',
        payload: pki.endorsers.alice.rule,
      }),
    },
    {
      name: 'remove endorser',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/endorsers/remove',
        payload: pki.endorsers.carol.rule,
      }),
    },
    {
      name: 'approve entry',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/approvals',
        payload: { catalogId: catalog.id, entryId },
      }),
    },
    {
      name: 'revoke entry',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/revocations',
        payload: { catalogId: catalog.id, entryId },
      }),
    },
    {
      name: 'approve endorser',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/endorser-approvals',
        payload: pki.endorsers.alice.rule,
      }),
    },
    {
      name: 'add auto rule',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/auto-rules',
        payload: { ...pki.endorsers.alice.rule, scope: { kinds: ['vm-image'] } },
      }),
    },
    {
      name: 'sign approval now',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({ method: 'POST', url: '/api/v1/sites/SITE-A/approval/sign' }),
    },
    {
      name: 'subscribe upstream',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({
        method: 'PUT',
        url: '/api/v1/sites/SITE-A/subscription',
        payload: {
          url: 'http://127.0.0.1:1/t.yaml',
          signerIssuer: pki.site.rule.issuer,
          signerSubject: pki.site.rule.subject,
        },
      }),
    },
    {
      name: 'export site',
      allowed: ['admin', 'siteAdminA'],
      request: () => ({ method: 'GET', url: '/api/v1/sites/SITE-A/export' }),
    },
    {
      name: 'import site',
      allowed: ['admin'],
      request: () => ({
        method: 'POST',
        url: '/api/v1/sites/import',
        headers: { 'content-type': 'application/gzip' },
        payload: exportArchive,
      }),
    },
    {
      name: 'publish catalog',
      allowed: ['endorser'],
      request: async () => {
        const { body, contentType } = await multipart(
          catalogBytes,
          signDetached(catalogBytes, pki.endorsers.alice),
        );
        return {
          method: 'POST',
          url: '/api/v1/catalogs',
          headers: { 'content-type': contentType },
          payload: body,
        };
      },
    },
    {
      name: 'add signature',
      allowed: ['endorser'],
      request: () => ({
        method: 'POST',
        url: `/api/v1/catalogs/${catalog.id}/versions/${catalog.version}/signatures`,
        headers: { 'content-type': 'application/pkcs7-signature' },
        payload: signDetached(catalogBytes, pki.endorsers.alice),
      }),
    },
    {
      name: 'put draft',
      allowed: ['endorser'],
      request: () => ({
        method: 'PUT',
        url: `/api/v1/catalogs/${catalog.id}/draft`,
        headers: { 'content-type': 'application/yaml' },
        payload: serializeDocument({ ...catalog, version: catalog.version + 1 }),
      }),
    },
    {
      name: 'add draft entry',
      allowed: ['endorser'],
      request: () => ({
        method: 'POST',
        url: `/api/v1/catalogs/${catalog.id}/draft/entries`,
        payload: makeEntry(),
      }),
    },
    {
      name: 'put torrent',
      allowed: ['endorser'],
      request: () => ({
        method: 'PUT',
        url: `/api/v1/torrents/${infoHash}`,
        headers: { 'content-type': 'application/x-bittorrent' },
        payload: torrent,
      }),
    },
    {
      name: 'upload artifact',
      allowed: ['endorser'],
      request: () => ({
        method: 'PATCH',
        url: `/api/v1/uploads/${artifactSha}`,
        headers: {
          'content-type': 'application/offset+octet-stream',
          'upload-offset': '0',
          'upload-length': String(artifact.length),
        },
        payload: artifact,
      }),
    },
  ];

  it.each(writes)('$name', async ({ allowed, request }) => {
    const outcomes: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const role of roleNames) {
      const options = await request(role);
      const token = tokens.get(role);
      const response = await app.inject({
        ...options,
        headers: { ...(options.headers ?? {}), ...(token ? bearer(token) : {}) },
      });
      const status = response.statusCode;
      outcomes[role] =
        status === 401 || status === 403
          ? `refused ${status}`
          : (status >= 200 && status < 300) || status === 409
            ? 'allowed'
            : `unexpected ${status} ${response.body.slice(0, 200)}`;
      expected[role] = allowed.includes(role)
        ? 'allowed'
        : role === 'anonymous'
          ? 'refused 401'
          : 'refused 403';
    }
    expect(outcomes).toEqual(expected);
  });
});
