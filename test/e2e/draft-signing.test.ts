// Drafts across real processes: a catalog version prepared on the catalog server is
// fetched by `tsw-endorse draft sign`, checked and signed on the endorser's side, and only
// the signature travels back; the server then publishes exactly the bytes that were signed.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeDocument, verifyDetached } from '@trustswarm/policy';
import { makeCatalog, type TestIdentity, type TestPki } from '@trustswarm/policy/testing';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type CatalogServer, stopAll } from '../demo/lib/processes.js';
import { startSite } from '../demo/lib/site.js';

let dir: string;
let pki: TestPki;
let server: CatalogServer;
let token: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-e2e-draft-'));
  const site = await startSite(dir, { name: 'DRAFT-SITE', threshold: 1 });
  pki = site.pki;
  server = site.server;
  token = site.aliceToken;
}, 120_000);

afterAll(async () => {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
});

async function putDraft(bytes: Buffer, id: string): Promise<void> {
  const res = await fetch(`${server.url}/api/v1/catalogs/${id}/draft`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/yaml' },
    body: bytes,
  });
  expect(res.status).toBeLessThan(300);
}

async function draftSign(who: TestIdentity, id: string) {
  const ws = join(dir, `ws-${Math.random().toString(36).slice(2)}`);
  await mkdir(ws, { recursive: true });
  return execa(
    'node',
    [
      BIN.endorse,
      '-C',
      ws,
      '--cert',
      who.certPath,
      '--key',
      who.keyPath,
      'draft',
      'sign',
      id,
      '--server',
      server.url,
    ],
    { reject: false, env: { TSW_ENDORSE_SERVER_TOKEN: token } },
  );
}

describe('tsw-endorse draft sign against tsw-catalog', () => {
  it('signs the exact draft bytes locally and the server publishes them', async () => {
    const catalog = makeCatalog({ name: 'prepared-on-server' });
    const bytes = serializeDocument(catalog);
    await putDraft(bytes, catalog.id);
    const r = await draftSign(pki.endorsers.alice, catalog.id);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/signed the draft of prepared-on-server version 1/);
    const served = Buffer.from(
      await (await fetch(`${server.url}/catalogs/${catalog.id}/1/catalog.yaml`)).arrayBuffer(),
    );
    expect(served.equals(bytes)).toBe(true);
    const signers = (await (
      await fetch(`${server.url}/catalogs/${catalog.id}/1/signatures/index.json`)
    ).json()) as string[];
    expect(signers).toEqual([pki.endorsers.alice.certificate.sha256]);
    const sig = Buffer.from(
      await (
        await fetch(`${server.url}/catalogs/${catalog.id}/1/signatures/${signers[0]}.p7s`)
      ).arrayBuffer(),
    );
    expect(verifyDetached(served, sig, pki.anchors).identity.subject).toBe(
      pki.endorsers.alice.certificate.subject,
    );
  }, 60_000);

  it('refuses to sign an expired draft, and nothing is published', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
    const catalog = makeCatalog({ issued: iso(now - 2 * 86400_000), expires: iso(now - 86400_000) });
    await putDraft(serializeDocument(catalog), catalog.id);
    const r = await draftSign(pki.endorsers.alice, catalog.id);
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr).trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/expired/);
    expect((await fetch(`${server.url}/catalogs/${catalog.id}/1/catalog.yaml`)).status).toBe(404);
  }, 60_000);

  it('fails with one line when there is no draft', async () => {
    const r = await draftSign(pki.endorsers.alice, makeCatalog().id);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/draft of catalog .*404/);
  }, 60_000);

  it('is refused by the server for a signer the account is not bound to', async () => {
    const catalog = makeCatalog({ name: 'bob-tries' });
    await putDraft(serializeDocument(catalog), catalog.id);
    const r = await draftSign(pki.endorsers.bob, catalog.id);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/server answered (403|422)/);
    expect((await fetch(`${server.url}/catalogs/${catalog.id}/1/catalog.yaml`)).status).toBe(404);
  }, 60_000);
});
