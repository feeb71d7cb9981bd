// The API routes added for the web UI and the /ui file server: answers, authorisation (401/403/404/
// 409 each proven), and the headers that keep the session token safe.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { identityOf, loadCertificate, serializeDocument, signDetached } from '@trustswarm/policy';
import { createTestPki, makeCatalog, makeEntry, type TestPki } from '@trustswarm/policy/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildApp } from '../../src/http/app.js';
import { ensureApprovalSigned } from '../../src/sites/approval-signer.js';
import { UiAssetsMissingError, uiPlugin } from '../../src/ui/plugin.js';
import { bearer, openTestServices, publishForm, type TestServices, userWithToken } from '../helpers.js';
import { buildUi } from './fixture.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

describe('API routes for the web UI', () => {
  let pki: TestPki;
  let t: TestServices;
  let app: FastifyInstance;
  let admin: string;
  let reader: string;
  let alice: string;
  let scriptsDir: string;
  const vm = makeEntry({ kind: 'vm-image', name: 'vm-one' });
  const catalog = makeCatalog({ name: 'ui-api', entries: [vm] });

  const call = (method: 'GET' | 'POST' | 'PUT', url: string, token?: string, payload?: object) =>
    app.inject({
      method,
      url,
      ...(token ? { headers: bearer(token) } : {}),
      ...(payload ? { payload } : {}),
    });

  beforeAll(async () => {
    scriptsDir = await buildUi();
    pki = await createTestPki(await mkdtemp(join(tmpdir(), 'tsw-ui-pki-')));
    t = await openTestServices('sqlite', { trust: { caPath: pki.caPathDir }, approval: { cacheSeconds: 0 } });
    app = await buildApp(t.services, { ui: uiPlugin({ scriptsDir }) });
    admin = await userWithToken(t.services, 'admin', [{ role: 'admin' }]);
    reader = await userWithToken(t.services, 'reader', [{ role: 'reader' }]);
    alice = await userWithToken(t.services, 'alice', [{ role: 'endorser' }], {
      endorserIdentity: identityOf(pki.endorsers.alice.certificate).key,
    });
    expect((await call('POST', '/api/v1/sites', admin, { name: 'S1' })).statusCode).toBe(201);
    expect(
      (await call('POST', '/api/v1/sites/S1/endorsers', admin, pki.endorsers.alice.rule)).statusCode,
    ).toBe(201);
    const bytes = serializeDocument(catalog);
    const form = new Request('http://x/', {
      method: 'POST',
      body: publishForm(bytes, [signDetached(bytes, pki.endorsers.alice)]),
    });
    const published = await app.inject({
      method: 'POST',
      url: '/api/v1/catalogs',
      headers: { ...bearer(alice), 'content-type': form.headers.get('content-type') ?? '' },
      payload: Buffer.from(await form.arrayBuffer()),
    });
    expect(published.statusCode).toBe(201);
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
    await rm(pki.dir, { recursive: true, force: true });
    await rm(scriptsDir, { recursive: true, force: true });
  });

  it('tells the sign-in page the methods without a token', async () => {
    const methods = await call('GET', '/api/v1/auth/methods');
    expect(methods.statusCode).toBe(200);
    expect(methods.json()).toEqual({ password: true, oidc: null });
  });

  it('lists a user’s tokens; another user’s only for admins', async () => {
    expect((await call('GET', '/api/v1/tokens')).statusCode).toBe(401);
    const own = (await call('GET', '/api/v1/tokens', reader)).json() as {
      current: boolean;
      active: boolean;
    }[];
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ current: true, active: true });
    const denied = await call('GET', '/api/v1/tokens?user=admin', reader);
    expect(denied.statusCode).toBe(403);
    const other = await call('GET', '/api/v1/tokens?user=reader', admin);
    expect(other.statusCode).toBe(200);
    expect(other.json()[0]).toMatchObject({ current: false, active: true });
    const unknown = await call('GET', '/api/v1/tokens?user=nobody', admin);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('NOT_FOUND');
  });

  it('summarises catalogs, pending entries, certificates and swarms on the dashboard', async () => {
    expect((await call('GET', '/api/v1/dashboard')).statusCode).toBe(401);
    const d = (await call('GET', '/api/v1/dashboard', reader)).json();
    expect(d.catalogs).toEqual([
      expect.objectContaining({ id: catalog.id, name: 'ui-api', latestVersion: 1 }),
    ]);
    expect(d.sites).toEqual([
      expect.objectContaining({ name: 'S1', pending: 1, approved: 0, approval: null }),
    ]);
    const roles = d.certificates.map((c: { role: string }) => c.role);
    expect(roles).toContain('endorser');
    expect(roles).toContain('CA');
    const after = d.certificates.map((c: { notAfter: string }) => c.notAfter);
    expect(after).toEqual([...after].sort());
    expect(d.swarms[0]).toMatchObject({ infoHash: vm.artifact?.infoHash, seeders: 0, leechers: 0 });
  });

  it('shows entry states and the changes the next approval brings', async () => {
    expect((await call('GET', '/api/v1/sites/NOPE/overview', reader)).statusCode).toBe(404);
    const before = (await call('GET', '/api/v1/sites/S1/overview', reader)).json();
    expect(before.catalogs[0].verified).toBe(true);
    expect(before.catalogs[0].entries[0]).toMatchObject({ id: vm.id, state: 'pending', decision: null });
    expect(
      (await call('POST', '/api/v1/sites/S1/approvals', reader, { catalogId: catalog.id, entryId: vm.id }))
        .statusCode,
    ).toBe(403);
    expect(
      (await call('POST', '/api/v1/sites/S1/approvals', admin, { catalogId: catalog.id, entryId: vm.id }))
        .statusCode,
    ).toBe(201);
    const after = (await call('GET', '/api/v1/sites/S1/overview', reader)).json();
    expect(after.catalogs[0].entries[0]).toMatchObject({
      state: 'approved',
      decision: { state: 'approved', byUser: 'admin' },
    });
    expect(after.published).toBeNull();
    expect(after.changes.added).toEqual([
      { catalogId: catalog.id, entryId: vm.id, name: `vm-one ${vm.version}` },
    ]);
    expect(after.lastChange).toBeNull();
  });

  it('writes an agent config only for a site with a signer, naming that signer', async () => {
    const missing = await call('GET', '/api/v1/sites/S1/agent-config', reader);
    expect(missing.statusCode).toBe(409);
    expect(missing.json().error.code).toBe('SIGNER_MISSING');
    const signer = await call('PUT', '/api/v1/sites/S1/signer', admin, {
      certificatePem: pki.site.certificatePem,
      privateKeyPem: pki.site.privateKeyPem,
      chainPem: pki.site.chainPem.join(''),
    });
    expect(signer.statusCode).toBe(200);
    // with a signer the approval is published: nothing pending, and the first version is the last change
    await ensureApprovalSigned(t.services, 'S1');
    const signed = (await call('GET', '/api/v1/sites/S1/overview', reader)).json();
    expect(signed.changes).toEqual({ added: [], removed: [] });
    expect(signed.lastChange).toMatchObject({ fromVersion: 0, toVersion: 1, removed: [] });
    expect(signed.lastChange.added.map((c: { entryId: string }) => c.entryId)).toEqual([vm.id]);
    expect(
      (await call('POST', '/api/v1/sites/S1/revocations', admin, { catalogId: catalog.id, entryId: vm.id }))
        .statusCode,
    ).toBe(201);
    await ensureApprovalSigned(t.services, 'S1');
    const revoked = (await call('GET', '/api/v1/sites/S1/overview', reader)).json();
    expect(revoked.lastChange).toMatchObject({ fromVersion: 1, toVersion: 2, added: [] });
    expect(revoked.lastChange.removed.map((c: { entryId: string }) => c.entryId)).toEqual([vm.id]);
    expect(
      (await call('POST', '/api/v1/sites/S1/approvals', admin, { catalogId: catalog.id, entryId: vm.id }))
        .statusCode,
    ).toBe(201);
    const config = await call('GET', '/api/v1/sites/S1/agent-config', reader);
    expect(config.headers['content-type']).toMatch(/^application\/yaml/);
    const cert = loadCertificate(pki.site.certificatePem);
    expect(parse(config.body)).toEqual({
      site: 'S1',
      layoutUrl: t.config.server.publicUrl,
      trust: {
        caPath: '/etc/grid-security/certificates',
        crlPolicy: 'require',
        siteSigners: [{ issuer: cert.issuer, subject: cert.subject }],
      },
    });
  });

  it('serves the trust anchors under their CApath file names', async () => {
    const anchors = (await call('GET', '/api/v1/trust-anchors', reader)).json() as {
      configured: boolean;
      certificates: { fileName: string; pem: string }[];
      crls: { fileName: string }[];
    };
    expect(anchors.configured).toBe(true);
    const files = new Set(await readdir(pki.caPathDir));
    const names = [...anchors.certificates, ...anchors.crls].map((f) => f.fileName);
    expect(names.length).toBe(files.size);
    for (const name of names) expect(files.has(name), name).toBe(true);
    expect(anchors.certificates.map((c) => loadCertificate(c.pem).sha256).sort()).toEqual(
      [...pki.anchors.roots, ...pki.anchors.intermediates].map((c) => c.sha256).sort(),
    );
  });

  it('adds signing time, certificate expiry and the full entry to a version', async () => {
    const v = (await call('GET', `/api/v1/catalogs/${catalog.id}/versions/1`, reader)).json();
    expect(v.name).toBe('ui-api');
    expect(v.signatures[0]).toMatchObject({ valid: true, reasons: [] });
    expect(Date.parse(v.signatures[0].signingTime)).toBeLessThanOrEqual(Date.now());
    expect(v.signatures[0].notAfter).toBe(pki.endorsers.alice.certificate.notAfter.toISOString());
    expect(v.entries[0].detail).toEqual(vm);
  });

  it('summarises a draft for endorsers only', async () => {
    expect((await call('GET', `/api/v1/catalogs/${catalog.id}/draft/summary`, reader)).statusCode).toBe(403);
    const unknown = await call(
      'GET',
      '/api/v1/catalogs/00000000-0000-4000-8000-000000000000/draft/summary',
      alice,
    );
    expect(unknown.statusCode).toBe(404);
    expect((await call('GET', `/api/v1/catalogs/${catalog.id}/draft/summary`, alice)).json()).toEqual({
      exists: false,
      name: 'ui-api',
      publishedVersion: 1,
      nextVersion: 2,
    });
    const entry = makeEntry({ name: 'vm-two' });
    expect(
      (await call('POST', `/api/v1/catalogs/${catalog.id}/draft/entries`, alice, entry)).statusCode,
    ).toBe(201);
    const draft = (await call('GET', `/api/v1/catalogs/${catalog.id}/draft/summary`, alice)).json();
    expect(draft).toMatchObject({ exists: true, nextVersion: 2, updatedBy: 'alice' });
    expect(draft.entries.map((e: { name: string }) => e.name)).toEqual(['vm-one', 'vm-two']);
  });

  it('serves the UI files with a strict CSP, ETags, and nothing outside its file set', async () => {
    const index = await app.inject('/ui/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    const script = await app.inject('/ui/js/main.js');
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    const again = await app.inject({
      url: '/ui/js/main.js',
      headers: { 'if-none-match': String(script.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    for (const url of [
      '/ui/js/nope.js',
      '/ui/../package.json',
      '/ui/%2e%2e/package.json',
      '/ui/js/main.d.ts',
    ])
      expect((await app.inject(url)).statusCode, url).toBe(404);
  });

  it('refuses to start the UI without its compiled scripts', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'tsw-ui-empty-'));
    const broken = await buildApp(t.services, { ui: uiPlugin({ scriptsDir: empty }) }).catch(
      (err: unknown) => err,
    );
    expect(broken).toBeInstanceOf(UiAssetsMissingError);
    expect((broken as UiAssetsMissingError).code).toBe('UI_ASSETS_MISSING');
    await rm(empty, { recursive: true, force: true });
  });

  it('is served by the tsw-catalog binary itself (from the package build)', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--server.port=0'], {
      env: {
        ...process.env,
        TSW_CATALOG_STORAGE_SQLITE_PATH: join(t.dir, 'cli.db'),
        TSW_CATALOG_BLOBS_DIRECTORY: join(t.dir, 'cli-blobs'),
      },
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buffered = '';
        child.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(buffered);
          if (match?.[1]) resolve(match[1]);
        });
        child.once('exit', (code) =>
          reject(new Error(`serve exited with ${code} (build the package first)`)),
        );
      });
      const index = await fetch(`${url}/ui/`);
      expect(index.status).toBe(200);
      expect(await index.text()).toContain('/ui/js/main.js');
      expect((await fetch(`${url}/ui/js/main.js`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
