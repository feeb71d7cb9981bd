// Publishing catalogs with signatures verified on upload, extra signatures, history and drafts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityOf, serializeDocument, signDetached, verifyDetached } from '@trustswarm/policy';
import { createTestPki, makeCatalog, makeEntry, type TestPki } from '@trustswarm/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/server.js';
import {
  bearer,
  errorCode,
  openTestServices,
  publishForm,
  type TestServices,
  userWithToken,
} from './helpers.js';

describe('catalog publishing', () => {
  let pki: TestPki;
  let t: TestServices;
  let server: RunningServer;
  let alice: string;
  let bob: string;
  let reader: string;

  beforeAll(async () => {
    pki = await createTestPki(await mkdtemp(join(tmpdir(), 'tsw-pki-')));
    t = await openTestServices('sqlite', { trust: { caPath: pki.caPathDir } });
    server = await startServer(t.config, { db: t.db });
    const key = (id: { certificate: Parameters<typeof identityOf>[0] }) => identityOf(id.certificate).key;
    alice = await userWithToken(server.services, 'alice', [{ role: 'endorser' }], {
      endorserIdentity: key(pki.endorsers.alice),
    });
    bob = await userWithToken(server.services, 'bob', [{ role: 'endorser' }], {
      endorserIdentity: key(pki.endorsers.bob),
    });
    reader = await userWithToken(server.services, 'reader', [{ role: 'reader' }]);
  });
  afterAll(async () => {
    await rm(pki.dir, { recursive: true, force: true });
    await server.app.close();
    await t.cleanup();
  });

  const publish = (token: string, catalog: Uint8Array, signatures: Uint8Array[]) =>
    fetch(`${server.url}/api/v1/catalogs`, {
      method: 'POST',
      headers: bearer(token),
      body: publishForm(catalog, signatures),
    });

  it('publishes a signed catalog, is idempotent, and refuses equivocation and rollback', async () => {
    const doc = makeCatalog({ version: 5 });
    const bytes = serializeDocument(doc);
    const first = await publish(alice, bytes, [signDetached(bytes, pki.endorsers.alice)]);
    expect(first.status).toBe(201);
    const body = (await first.json()) as { id: string; version: number; signatures: { subject: string }[] };
    expect(body).toMatchObject({ id: doc.id, version: 5 });
    expect(body.signatures[0]?.subject).toBe(pki.endorsers.alice.certificate.subject);
    expect((await publish(alice, bytes, [signDetached(bytes, pki.endorsers.alice)])).status).toBe(200);
    const other = serializeDocument({ ...doc, name: 'changed' });
    const equivocation = await publish(alice, other, [signDetached(other, pki.endorsers.alice)]);
    expect(equivocation.status).toBe(409);
    expect(await errorCode(equivocation)).toBe('EQUIVOCATION');
    const older = serializeDocument({ ...doc, version: 4 });
    const rollback = await publish(alice, older, [signDetached(older, pki.endorsers.alice)]);
    expect(rollback.status).toBe(409);
    expect(await errorCode(rollback)).toBe('VERSION_NOT_NEWER');
  });

  it('rejects with every reason: untrusted, revoked, tampered, unknown signer', async () => {
    const bytes = serializeDocument(makeCatalog());
    const tampered = Buffer.concat([bytes, Buffer.from('\n')]);
    const response = await publish(alice, bytes, [
      signDetached(bytes, pki.untrusted),
      signDetached(bytes, pki.revoked),
      signDetached(tampered, pki.endorsers.alice),
      signDetached(bytes, pki.endorsers.carol),
    ]);
    expect(response.status).toBe(422);
    const { error } = (await response.json()) as { error: { reasons: { code: string; message: string }[] } };
    const codes = error.reasons.map((r) => r.code);
    expect(codes).toEqual(
      expect.arrayContaining(['CERT_UNTRUSTED', 'CERT_REVOKED', 'DIGEST_MISMATCH', 'NOT_AUTHORISED_SIGNER']),
    );
    expect(error.reasons.length).toBe(4);
    expect(error.reasons.map((r) => r.message.slice(0, 11))).toEqual([
      'signature 1',
      'signature 2',
      'signature 3',
      'signature 4',
    ]);
  });

  it('rejects an unsigned catalog and a malformed one', async () => {
    const bytes = serializeDocument(makeCatalog());
    const unsigned = await publish(alice, bytes, []);
    expect(unsigned.status).toBe(422);
    expect(await errorCode(unsigned)).toBe('SIGNATURE_MISSING');
    const junk = Buffer.from('apiVersion: trustswarm/v1\nkind: Catalog\nid: [\n');
    const malformed = await publish(alice, junk, [signDetached(junk, pki.endorsers.alice)]);
    expect(malformed.status).toBe(422);
    expect(await errorCode(malformed)).toMatch(/PARSE_ERROR|SCHEMA_INVALID/);
  });

  it('adds a second endorser signature and shows both in the history', async () => {
    const doc = makeCatalog();
    const bytes = serializeDocument(doc);
    expect((await publish(alice, bytes, [signDetached(bytes, pki.endorsers.alice)])).status).toBe(201);
    const added = await fetch(`${server.url}/api/v1/catalogs/${doc.id}/versions/1/signatures`, {
      method: 'POST',
      headers: { ...bearer(bob), 'content-type': 'application/pkcs7-signature' },
      body: signDetached(bytes, pki.endorsers.bob),
    });
    expect(added.status).toBe(201);
    const history = (await (
      await fetch(`${server.url}/api/v1/catalogs/${doc.id}/versions`, { headers: bearer(reader) })
    ).json()) as {
      signatures: unknown[];
    }[];
    expect(history[0]?.signatures).toHaveLength(2);
    const detail = (await (
      await fetch(`${server.url}/api/v1/catalogs/${doc.id}/versions/1`, { headers: bearer(reader) })
    ).json()) as { signatures: { valid: boolean }[]; entries: { sha256: string }[] };
    expect(detail.signatures.every((s) => s.valid)).toBe(true);
    expect(detail.entries[0]?.sha256).toBe(doc.entries[0]?.artifact?.sha256);
    const wrong = await fetch(`${server.url}/api/v1/catalogs/${doc.id}/versions/1/signatures`, {
      method: 'POST',
      headers: { ...bearer(bob), 'content-type': 'application/pkcs7-signature' },
      body: signDetached(Buffer.from('other bytes'), pki.endorsers.bob),
    });
    expect(wrong.status).toBe(422);
    expect(await errorCode(wrong)).toBe('DIGEST_MISMATCH');
    // The static layout lists every signer, and each listed file is that signer's signature.
    const base = `${server.url}/catalogs/${doc.id}/1/signatures`;
    const index = await fetch(`${base}/index.json`);
    expect(index.status).toBe(200);
    const signers = (await index.json()) as string[];
    expect(signers.sort()).toEqual(
      [pki.endorsers.alice.certificate.sha256, pki.endorsers.bob.certificate.sha256].sort(),
    );
    for (const signer of signers) {
      const sig = Buffer.from(await (await fetch(`${base}/${signer}.p7s`)).arrayBuffer());
      expect(verifyDetached(bytes, sig, pki.anchors).signerCertSha256).toBe(signer);
    }
    const etag = index.headers.get('etag') ?? '';
    expect((await fetch(`${base}/index.json`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${server.url}/catalogs/${doc.id}/9/signatures/index.json`)).status).toBe(404);
  });

  it('prepares a draft on the server and publishes it with a signature over its exact bytes', async () => {
    const doc = makeCatalog({ version: 1 });
    const bytes = serializeDocument(doc);
    expect((await publish(alice, bytes, [signDetached(bytes, pki.endorsers.alice)])).status).toBe(201);
    const entry = makeEntry();
    const added = await fetch(`${server.url}/api/v1/catalogs/${doc.id}/draft/entries`, {
      method: 'POST',
      headers: { ...bearer(alice), 'content-type': 'application/json' },
      body: JSON.stringify(entry),
    });
    expect(added.status).toBe(201);
    const removed = await fetch(
      `${server.url}/api/v1/catalogs/${doc.id}/draft/entries/${doc.entries[0]?.id}`,
      {
        method: 'DELETE',
        headers: bearer(alice),
      },
    );
    expect(removed.status).toBe(200);
    const draft = await fetch(`${server.url}/api/v1/catalogs/${doc.id}/draft`, { headers: bearer(alice) });
    const draftBytes = Buffer.from(await draft.arrayBuffer());
    expect(draft.headers.get('x-trustswarm-sha256')).toMatch(/^[0-9a-f]{64}$/);
    const signed = await fetch(`${server.url}/api/v1/catalogs/${doc.id}/draft/signatures`, {
      method: 'POST',
      headers: { ...bearer(alice), 'content-type': 'application/pkcs7-signature' },
      body: signDetached(draftBytes, pki.endorsers.alice),
    });
    expect(signed.status).toBe(201);
    expect(await signed.json()).toMatchObject({ id: doc.id, version: 2 });
    const summary = (await (
      await fetch(`${server.url}/api/v1/catalogs/${doc.id}`, { headers: bearer(reader) })
    ).json()) as {
      latestVersion: number;
    };
    expect(summary.latestVersion).toBe(2);
    expect(
      (await fetch(`${server.url}/api/v1/catalogs/${doc.id}/draft`, { headers: bearer(alice) })).status,
    ).toBe(404);
  });

  it('binds an endorser account to a certificate given as PEM', async () => {
    const admin = await userWithToken(server.services, 'root', [{ role: 'admin' }]);
    const created = await fetch(`${server.url}/api/v1/users`, {
      method: 'POST',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'carol',
        roles: [{ role: 'endorser' }],
        endorserCertificatePem: pki.endorsers.carol.certificatePem,
      }),
    });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { endorserIdentity: string }).endorserIdentity).toBe(
      identityOf(pki.endorsers.carol.certificate).key,
    );
    const login = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'carol', scopes: ['read', 'catalog:write'] }),
    });
    const carolToken = ((await login.json()) as { token: string }).token;
    const bytes = serializeDocument(makeCatalog());
    expect((await publish(carolToken, bytes, [signDetached(bytes, pki.endorsers.carol)])).status).toBe(201);
    const badCert = await fetch(`${server.url}/api/v1/users`, {
      method: 'POST',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'dave',
        roles: [{ role: 'endorser' }],
        endorserCertificatePem: 'not a certificate',
      }),
    });
    expect(badCert.status).toBe(400);
    expect(await errorCode(badCert)).toBe('CERTIFICATE_INVALID');
  });

  it('refuses publishing by a reader', async () => {
    const bytes = serializeDocument(makeCatalog());
    expect((await publish(reader, bytes, [signDetached(bytes, pki.endorsers.alice)])).status).toBe(403);
  });
});
