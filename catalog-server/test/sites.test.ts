// Sites: trust list, approvals, the signed Approval document (re-signing, rising versions), the
// static layout with ETags, and upstream trust-list subscriptions.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  evaluate,
  identityOf,
  parseApproval,
  serializeDocument,
  signDetached,
  type TrustList,
  verifyApproval,
} from '@trustswarm/policy';
import { createTestPki, makeCatalog, makeEntry, type TestPki } from '@trustswarm/policy/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureApprovalSigned } from '../src/sites/approval-signer.js';
import { appFor, bearer, openTestServices, type TestServices, userWithToken } from './helpers.js';

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

describe('sites and approvals', () => {
  let pki: TestPki;
  let t: TestServices;
  let app: FastifyInstance;
  let now = Date.now();
  let admin: string;
  let siteAdmin: string;
  let alice: string;
  const vm = makeEntry({ kind: 'vm-image', name: 'vm-one' });
  const snapshot = makeEntry({ kind: 'vm-image', name: 'vm-two' });
  const catalog = makeCatalog({ entries: [vm, snapshot] });
  const catalogBytes = serializeDocument(catalog);

  beforeAll(async () => {
    pki = await createTestPki(await mkdtemp(join(tmpdir(), 'tsw-pki-')));
    t = await openTestServices(
      'sqlite',
      {
        trust: { caPath: pki.caPathDir },
        approval: { cacheSeconds: 0, lifetimeSeconds: 3600, renewBeforeSeconds: 600 },
      },
      () => new Date(now),
    );
    app = await appFor(t);
    admin = await userWithToken(t.services, 'admin', [{ role: 'admin' }]);
    siteAdmin = await userWithToken(t.services, 'siteadmin', [{ role: 'site-admin', site: 'SITE-A' }]);
    alice = await userWithToken(t.services, 'alice', [{ role: 'endorser' }], {
      endorserIdentity: identityOf(pki.endorsers.alice.certificate).key,
    });
    const post = (url: string, token: string, payload: object) =>
      app.inject({ method: 'POST', url, headers: bearer(token), payload });
    expect((await post('/api/v1/sites', admin, { name: 'SITE-A', threshold: 1 })).statusCode).toBe(201);
    const signer = await app.inject({
      method: 'PUT',
      url: '/api/v1/sites/SITE-A/signer',
      headers: bearer(admin),
      payload: {
        certificatePem: pki.site.certificatePem,
        privateKeyPem: pki.site.privateKeyPem,
        chainPem: pki.site.chainPem.join(''),
      },
    });
    expect(signer.statusCode).toBe(200);
    expect(
      (await post('/api/v1/sites/SITE-A/endorsers', siteAdmin, pki.endorsers.alice.rule)).statusCode,
    ).toBe(201);
    const form = new FormData();
    form.append('catalog', new Blob([catalogBytes]), 'catalog.yaml');
    form.append('signature', new Blob([signDetached(catalogBytes, pki.endorsers.alice)]), 'a.p7s');
    const request = new Request('http://x/', { method: 'POST', body: form });
    const published = await app.inject({
      method: 'POST',
      url: '/api/v1/catalogs',
      headers: { ...bearer(alice), 'content-type': request.headers.get('content-type') ?? '' },
      payload: Buffer.from(await request.arrayBuffer()),
    });
    expect(published.statusCode).toBe(201);
  });
  afterAll(async () => {
    await rm(pki.dir, { recursive: true, force: true });
    await app.close();
    await t.cleanup();
  });

  async function approvalNow() {
    const outcome = await ensureApprovalSigned(t.services, 'SITE-A');
    if (outcome.status !== 'signed' && outcome.status !== 'current') throw new Error(outcome.status);
    const yaml = await app.inject('/sites/SITE-A/approval.yaml');
    const p7s = await app.inject('/sites/SITE-A/approval.yaml.p7s');
    const verified = verifyApproval(
      { bytes: yaml.rawPayload, signature: p7s.rawPayload },
      { anchors: pki.anchors, siteSigners: [pki.site.rule], site: 'SITE-A', now: new Date(now) },
    );
    return {
      outcome,
      yaml,
      verified,
      entries: verified.approval.catalogs.flatMap((c) => c.entries.map((e) => e.id)),
    };
  }

  it('approves one entry and publishes a site-signed approval that policy verifies', async () => {
    const approve = await app.inject({
      method: 'POST',
      url: '/api/v1/sites/SITE-A/approvals',
      headers: bearer(siteAdmin),
      payload: { catalogId: catalog.id, entryId: vm.id },
    });
    expect(approve.statusCode).toBe(201);
    const { entries, verified, yaml } = await approvalNow();
    expect(entries).toEqual([vm.id]);
    expect(verified.approval.trust.endorsers[0]?.subject).toBe(pki.endorsers.alice.rule.subject);
    expect(yaml.headers['cache-control']).toMatch(/max-age=/);
    const etag = String(yaml.headers.etag);
    const cached = await app.inject({
      url: '/sites/SITE-A/approval.yaml',
      headers: { 'if-none-match': etag },
    });
    expect(cached.statusCode).toBe(304);
    expect(cached.body).toBe('');
    const index = await app.inject('/sites/SITE-A/index.html');
    expect(index.body).toContain('vm-one');
    expect(index.body).not.toContain('vm-two');
  });

  it('approves all entries of an endorser, and a revocation still wins', async () => {
    const all = await app.inject({
      method: 'POST',
      url: '/api/v1/sites/SITE-A/endorser-approvals',
      headers: bearer(siteAdmin),
      payload: pki.endorsers.alice.rule,
    });
    expect(all.statusCode).toBe(204);
    expect((await approvalNow()).entries.sort()).toEqual([vm.id, snapshot.id].sort());
    const revoke = await app.inject({
      method: 'POST',
      url: '/api/v1/sites/SITE-A/revocations',
      headers: bearer(siteAdmin),
      payload: { catalogId: catalog.id, entryId: snapshot.id },
    });
    expect(revoke.statusCode).toBe(201);
    expect((await approvalNow()).entries).toEqual([vm.id]);
  });

  it('re-signs before expiry and when content changes, with versions always rising', async () => {
    const first = await approvalNow();
    const v1 = first.verified.approval.version;
    const again = await ensureApprovalSigned(t.services, 'SITE-A');
    expect(again.status).toBe('current');
    now += (3600 - 500) * 1000; // inside renewBeforeSeconds of expiry
    const renewed = await approvalNow();
    expect(renewed.outcome.status).toBe('signed');
    const v2 = renewed.verified.approval.version;
    expect(v2).toBeGreaterThan(v1);
    expect(Date.parse(renewed.verified.approval.expires)).toBeGreaterThan(
      Date.parse(first.verified.approval.expires),
    );
    const rule = await app.inject({
      method: 'POST',
      url: '/api/v1/sites/SITE-A/auto-rules',
      headers: bearer(siteAdmin),
      payload: { ...pki.endorsers.alice.rule, scope: { kinds: ['container-image'] } },
    });
    expect(rule.statusCode).toBe(201);
    const forced = await app.inject({
      method: 'POST',
      url: '/api/v1/sites/SITE-A/approval/sign',
      headers: bearer(siteAdmin),
    });
    expect(forced.json().version).toBeGreaterThan(v2);
    const signings = await t.db.all<{ actor: string; detail: string }>(
      "SELECT actor, detail FROM audit_log WHERE action = 'site.approval.sign' ORDER BY seq",
    );
    expect(signings.at(-1)?.actor).toBe('user:siteadmin');
    expect(JSON.parse(signings.at(-1)?.detail ?? '{}').version).toBe(forced.json().version);
    expect(signings.some((r) => r.actor === 'approval-signer')).toBe(true);
  });

  it('serves a layout from which policy.evaluate (what agents run) allows exactly the approved entries', async () => {
    await ensureApprovalSigned(t.services, 'SITE-A', { force: true });
    const approval = {
      bytes: (await app.inject('/sites/SITE-A/approval.yaml')).rawPayload,
      signature: (await app.inject('/sites/SITE-A/approval.yaml.p7s')).rawPayload,
    };
    const ref = parseApproval(approval.bytes).catalogs[0];
    if (!ref) throw new Error('approval lists no catalog');
    const detail = await app.inject({
      url: `/api/v1/catalogs/${ref.id}/versions/${ref.version}`,
      headers: bearer(alice),
    });
    const signatureFiles = detail
      .json()
      .signatures.map((s: { signerCertSha256: string }) => s.signerCertSha256);
    const base = `/catalogs/${ref.id}/${ref.version}`;
    const catalogDoc = {
      bytes: (await app.inject(`${base}/catalog.yaml`)).rawPayload,
      signatures: await Promise.all(
        signatureFiles.map(async (f: string) => (await app.inject(`${base}/signatures/${f}.p7s`)).rawPayload),
      ),
    };
    const evaluation = evaluate({
      approval,
      catalogs: [catalogDoc],
      anchors: pki.anchors,
      siteSigners: [pki.site.rule],
      site: 'SITE-A',
      now: new Date(now),
    });
    const allowed = evaluation.entries.filter((e) => e.allowed).map((e) => e.entryId);
    expect(allowed).toEqual([vm.id]);
    const revoked = evaluation.entries.find((e) => e.entryId === snapshot.id);
    expect(revoked?.allowed).toBe(false);
    expect(revoked?.reasons.map((r) => r.code)).toEqual(['NOT_APPROVED']);
  });

  it('refuses another site’s admin and a reader on approval writes', async () => {
    const other = await userWithToken(t.services, 'otheradmin', [{ role: 'site-admin', site: 'SITE-B' }]);
    const reader = await userWithToken(t.services, 'reader1', [{ role: 'reader' }]);
    for (const token of [other, reader]) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/approvals',
        headers: bearer(token),
        payload: { catalogId: catalog.id, entryId: vm.id },
      });
      expect(response.statusCode).toBe(403);
    }
  });

  it('exports a site and imports it into a server on PostgreSQL, re-verifying signatures', async () => {
    const exported = await app.inject({ url: '/api/v1/sites/SITE-A/export', headers: bearer(siteAdmin) });
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['content-type']).toBe('application/gzip');
    const target = await openTestServices(
      'postgres',
      { trust: { caPath: pki.caPathDir } },
      () => new Date(now),
    );
    const targetApp = await appFor(target);
    try {
      const targetAdmin = await userWithToken(target.services, 'admin', [{ role: 'admin' }]);
      const imported = await targetApp.inject({
        method: 'POST',
        url: '/api/v1/sites/import',
        headers: { ...bearer(targetAdmin), 'content-type': 'application/gzip' },
        payload: exported.rawPayload,
      });
      expect(imported.statusCode).toBe(201);
      expect(imported.json()).toMatchObject({
        site: 'SITE-A',
        catalogVersionsImported: 1,
        catalogVersionsSkipped: [],
      });
      const again = await targetApp.inject({
        method: 'POST',
        url: '/api/v1/sites/import',
        headers: { ...bearer(targetAdmin), 'content-type': 'application/gzip' },
        payload: exported.rawPayload,
      });
      expect(again.statusCode).toBe(409);
      const approvals = await targetApp.inject({
        url: '/api/v1/sites/SITE-A/approvals',
        headers: bearer(targetAdmin),
      });
      expect(
        approvals.json().approved.flatMap((c: { entries: { id: string }[] }) => c.entries.map((e) => e.id)),
      ).toEqual([vm.id]);
      const garbage = await targetApp.inject({
        method: 'POST',
        url: '/api/v1/sites/import',
        headers: { ...bearer(targetAdmin), 'content-type': 'application/gzip' },
        payload: Buffer.from('not an archive'),
      });
      expect(garbage.statusCode).toBe(400);
      expect(garbage.json().error.code).toBe('ARCHIVE_INVALID');
    } finally {
      await targetApp.close();
      await target.cleanup();
    }
  });

  describe('upstream trust list', () => {
    let upstream: Server;
    let served: { bytes: Buffer; signature: Buffer };
    let url: string;

    function trustList(version: number, endorsers: TrustList['endorsers']): Buffer {
      return serializeDocument({
        apiVersion: 'trustswarm/v1',
        kind: 'TrustList',
        name: 'federation',
        version,
        issued: iso(now - 60_000),
        expires: iso(now + 86_400_000),
        endorsers,
      });
    }

    beforeAll(async () => {
      upstream = createServer((req, res) => {
        res.end(req.url?.endsWith('.p7s') ? served.signature : served.bytes);
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/trust.yaml`;
      const subscribed = await app.inject({
        method: 'PUT',
        url: '/api/v1/sites/SITE-A/subscription',
        headers: bearer(siteAdmin),
        payload: { url, signerIssuer: pki.site.rule.issuer, signerSubject: pki.site.rule.subject },
      });
      expect(subscribed.statusCode).toBe(204);
    });
    afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

    const sync = () =>
      app.inject({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/subscription/sync',
        headers: bearer(siteAdmin),
      });
    const effectiveSubjects = async () =>
      (await app.inject({ url: '/api/v1/sites/SITE-A/trust', headers: bearer(siteAdmin) }))
        .json()
        .effective.map((e: { rule: { subject: string } }) => e.rule.subject)
        .sort();

    it('applies a correctly signed list on top of the local one', async () => {
      const bytes = trustList(3, [pki.endorsers.bob.rule]);
      served = { bytes, signature: signDetached(bytes, pki.site) };
      const result = await sync();
      expect(result.json()).toMatchObject({ status: 'ok', lastVersion: 3, lastError: null });
      expect(await effectiveSubjects()).toEqual(
        [pki.endorsers.alice.rule.subject, pki.endorsers.bob.rule.subject].sort(),
      );
    });

    it('does not apply a list whose signature fails, and reports why', async () => {
      const bytes = trustList(4, [pki.endorsers.carol.rule]);
      served = { bytes, signature: signDetached(Buffer.concat([bytes, Buffer.from(' ')]), pki.site) };
      const result = await sync();
      expect(result.json()).toMatchObject({ status: 'error', lastVersion: 3 });
      expect(result.json().lastError).toMatch(/^DIGEST_MISMATCH/);
      expect(await effectiveSubjects()).not.toContain(pki.endorsers.carol.rule.subject);
      const site = await app.inject({ url: '/api/v1/sites/SITE-A', headers: bearer(siteAdmin) });
      expect(site.json().subscription.status).toBe('error');
    });

    it('does not apply a list signed by someone other than the pinned signer, nor an older version', async () => {
      const bytes = trustList(5, [pki.endorsers.carol.rule]);
      served = { bytes, signature: signDetached(bytes, pki.endorsers.alice) };
      expect((await sync()).json().lastError).toMatch(/^NOT_AUTHORISED_SIGNER/);
      const old = trustList(2, [pki.endorsers.carol.rule]);
      served = { bytes: old, signature: signDetached(old, pki.site) };
      expect((await sync()).json().lastError).toMatch(/^ROLLBACK/);
      expect(await effectiveSubjects()).not.toContain(pki.endorsers.carol.rule.subject);
    });

    it('a local removal hides an upstream endorser', async () => {
      const removed = await app.inject({
        method: 'POST',
        url: '/api/v1/sites/SITE-A/endorsers/remove',
        headers: bearer(siteAdmin),
        payload: pki.endorsers.bob.rule,
      });
      expect(removed.statusCode).toBe(204);
      expect(await effectiveSubjects()).toEqual([pki.endorsers.alice.rule.subject]);
      const { verified } = await approvalNow();
      expect(parseApproval(Buffer.from(serializeDocument(verified.approval))).trust.endorsers).toHaveLength(
        1,
      );
    });
  });
});
