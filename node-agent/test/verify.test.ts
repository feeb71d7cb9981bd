// The agent's verification door is @trustswarm/policy: these tests check the wiring —
// what the agent accepts, and that it refuses a wrong signer, a catalog endorsed by nobody
// the site trusts, and a replayed older approval (also after a restart).

import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayoutClient, PolicySiteVerifier, pollConfigSchema, SiteSync } from '@trustswarm/fetch';
import { serializeDocument, signDetached } from '@trustswarm/policy';
import { createTestPki, type TestIdentity, type TestPki } from '@trustswarm/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approvalDocument,
  catalogEntry,
  type EntrySpec,
  type PublishedCatalog,
  publishApproval,
} from './helpers/layout.js';
import { startStaticServer } from './helpers/static-server.js';
import type { Artifact } from './helpers/swarm.js';

let dir: string;
let pki: TestPki;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-verify-'));
  pki = await createTestPki(join(dir, 'pki'));
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fakeArtifact = (seed: string): Artifact =>
  ({
    sha256: seed.repeat(64).slice(0, 64),
    torrentFile: Buffer.from(seed),
    info: { sizeBytes: 10, infoHash: seed.repeat(40).slice(0, 40) },
  }) as unknown as Artifact;

function catalog(version: number, entries: EntrySpec[]): PublishedCatalog {
  const now = Date.now();
  const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const bytes = serializeDocument({
    apiVersion: 'trustswarm/v1',
    kind: 'Catalog',
    id: CATALOG_ID,
    name: 'test-catalog',
    version,
    issued: iso(now - 3_600_000),
    expires: iso(now + 86_400_000),
    entries: entries.map(catalogEntry),
  });
  return { id: CATALOG_ID, version, bytes, entries };
}

const CATALOG_ID = randomUUID();
const entry: EntrySpec = { id: randomUUID(), name: 'img', artifact: fakeArtifact('a') };

function verifier(name: string): PolicySiteVerifier {
  return new PolicySiteVerifier({
    site: 'CERN-TEST',
    caPath: pki.caPathDir,
    crlPolicy: 'require',
    siteSigners: [pki.site.rule],
    highWaterPath: join(dir, `${name}.json`),
  });
}

function bundle(version: number, opts: { approvalSigner?: TestIdentity; endorser?: TestIdentity } = {}) {
  const cat = catalog(1, [entry]);
  const bytes = serializeDocument(
    approvalDocument(pki, { site: 'CERN-TEST', version, catalogs: [{ catalog: cat, entries: [entry] }] }),
  );
  return {
    approval: { bytes, signature: signDetached(bytes, opts.approvalSigner ?? pki.site) },
    catalogs: [
      { bytes: cat.bytes, signatures: [signDetached(cat.bytes, opts.endorser ?? pki.endorsers.alice)] },
    ],
  };
}

describe('PolicySiteVerifier', () => {
  it('allows an entry endorsed by a trusted endorser and approved by the site', () => {
    const b = bundle(1);
    const v = verifier('ok');
    expect(v.readApproval(b.approval, new Date()).catalogs.map((c) => c.id)).toEqual([CATALOG_ID]);
    const site = v.evaluate(b.approval, b.catalogs, new Date());
    expect(site.entries.map((e) => e.entry.id)).toEqual([entry.id]);
    expect(site.refused).toEqual([]);
  });

  it('refuses an approval signed by someone who is not a site signer', () => {
    const b = bundle(1, { approvalSigner: pki.endorsers.bob });
    expect(() => verifier('signer').readApproval(b.approval, new Date())).toThrow(
      /not a configured site signer/,
    );
  });

  it('refuses entries of a catalog signed only by an endorser the site does not list', () => {
    const b = bundle(1, { endorser: pki.endorsers.carol });
    const site = verifier('endorser').evaluate(b.approval, b.catalogs, new Date());
    expect(site.entries).toEqual([]);
    expect(site.refused[0]?.reasons.map((r) => r.code)).toContain('THRESHOLD_NOT_MET');
  });

  it('refuses a replayed older approval, also after a restart', () => {
    const v = verifier('rollback');
    const v2 = bundle(2);
    v.evaluate(v2.approval, v2.catalogs, new Date());
    const v1 = bundle(1);
    expect(() => v.readApproval(v1.approval, new Date())).toThrow(/older than version 2/);
    expect(() => verifier('rollback').readApproval(v1.approval, new Date())).toThrow(/older than version 2/);
  });
});

describe('SiteSync, a fresh agent', () => {
  it('takes and caches an approval that lists no catalog', async () => {
    const root = join(dir, 'layout-empty');
    await publishApproval(root, pki, { site: 'CERN-TEST', version: 3, catalogs: [] });
    const server = await startStaticServer(root);
    try {
      // wired as the daemon wires it, with the default poll limits
      const poll = pollConfigSchema.parse({});
      const layout = new LayoutClient({ baseUrl: server.baseUrl, ...poll });
      // the cache directory does not exist yet: nothing was ever cached
      const cacheDir = join(dir, 'fresh-agent', 'cache');
      const sync = new SiteSync(
        'CERN-TEST',
        layout,
        verifier('fresh'),
        cacheDir,
        poll.maxSignaturesPerCatalog,
      );
      expect(await sync.refresh(new Date())).toEqual({ kind: 'updated' });
      expect(sync.verified?.entries).toEqual([]);
      expect(await sync.refresh(new Date())).toEqual({ kind: 'unchanged' });
      // a restart restores it from the cache
      const restarted = new SiteSync(
        'CERN-TEST',
        layout,
        verifier('fresh'),
        cacheDir,
        poll.maxSignaturesPerCatalog,
      );
      expect(await restarted.restore(new Date())).toEqual({ kind: 'restored' });
    } finally {
      await server.close();
    }
  });
});
