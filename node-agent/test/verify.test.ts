// The interim verifier (stock openssl) refuses every bad approval with a clear reason.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FileHighWaterStore } from '../src/verify/high-water.js';
import { OpensslSiteVerifier, type VerifierConfig } from '../src/verify/site-verifier.js';
import { catalogYaml } from './helpers/layout.js';
import { createTestPki, type TestPki } from './helpers/pki.js';
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

function approval(fields: Record<string, unknown> = {}): Buffer {
  const now = Date.now();
  return Buffer.from(
    stringify({
      apiVersion: 'trustswarm/v1',
      kind: 'Approval',
      site: 'CERN-TEST',
      version: 5,
      issued: new Date(now - 60_000).toISOString(),
      expires: new Date(now + 3_600_000).toISOString(),
      catalogs: [],
      ...fields,
    }),
  );
}

function verifier(name: string, overrides: Partial<VerifierConfig> = {}): OpensslSiteVerifier {
  return new OpensslSiteVerifier(
    {
      site: 'CERN-TEST',
      caPath: pki.caPath,
      crlCheck: true,
      siteSigners: [pki.siteSubject],
      maxApprovalBytes: 1 << 20,
      maxCatalogBytes: 1 << 20,
      clockSkewSeconds: 60,
      ...overrides,
    },
    new FileHighWaterStore(join(dir, `${name}.json`)),
  );
}

describe('approval verification', () => {
  it('accepts a valid approval signed by the site', async () => {
    const bytes = approval();
    const result = await verifier('ok').verifyApproval(
      { bytes, signature: await pki.sign(bytes) },
      new Date(),
    );
    expect(result.approval.version).toBe(5);
  });

  it.each([
    [
      'a tampered document',
      async (b: Buffer) => ({ bytes: Buffer.concat([b, Buffer.from('#')]), signature: await pki.sign(b) }),
      /signature invalid/,
    ],
    [
      'a signer chained to an unknown CA',
      async (b: Buffer) => ({ bytes: b, signature: await pki.signUntrusted(b) }),
      /signature invalid/,
    ],
  ])('refuses %s', async (_name, make, pattern) => {
    const doc = await make(approval());
    await expect(verifier('bad').verifyApproval(doc, new Date())).rejects.toThrow(pattern);
  });

  it('refuses a valid signature from someone who is not a site signer', async () => {
    const bytes = approval();
    const v = verifier('signer', { siteSigners: ['CN=someone else'] });
    await expect(v.verifyApproval({ bytes, signature: await pki.sign(bytes) }, new Date())).rejects.toThrow(
      /not a configured site signer/,
    );
  });

  it('refuses an approval for another site, an expired one, and YAML aliases', async () => {
    const v = verifier('fields');
    const other = approval({ site: 'ELSEWHERE' });
    await expect(
      v.verifyApproval({ bytes: other, signature: await pki.sign(other) }, new Date()),
    ).rejects.toThrow(/not CERN-TEST/);
    const old = approval({ expires: new Date(Date.now() - 1000).toISOString() });
    await expect(
      v.verifyApproval({ bytes: old, signature: await pki.sign(old) }, new Date()),
    ).rejects.toThrow(/expired/);
    const aliased = Buffer.concat([approval(), Buffer.from('extra: &a [1]\nmore: *a\n')]);
    await expect(
      v.verifyApproval({ bytes: aliased, signature: await pki.sign(aliased) }, new Date()),
    ).rejects.toThrow(/anchors and aliases/);
  });

  it('refuses a replayed older approval and a different document under a seen version', async () => {
    const v = verifier('rollback');
    const v6 = approval({ version: 6 });
    const v5 = approval({ version: 5 });
    await v.verifyApproval({ bytes: v6, signature: await pki.sign(v6) }, new Date());
    await expect(v.verifyApproval({ bytes: v5, signature: await pki.sign(v5) }, new Date())).rejects.toThrow(
      /rollback/,
    );
    const v6b = approval({
      version: 6,
      catalogs: [{ id: 'x', version: 1, sha256: 'a'.repeat(64), entries: [] }],
    });
    await expect(
      v.verifyApproval({ bytes: v6b, signature: await pki.sign(v6b) }, new Date()),
    ).rejects.toThrow(/equivocation/);
    // The high-water mark survives a restart.
    const again = verifier('rollback');
    await expect(
      again.verifyApproval({ bytes: v5, signature: await pki.sign(v5) }, new Date()),
    ).rejects.toThrow(/rollback/);
  });

  it('uses only entries whose catalog bytes and artifact hash match the approval', async () => {
    const artifact = {
      sha256: 'b'.repeat(64),
      torrentFile: Buffer.from('t'),
      info: { sizeBytes: 10, infoHash: 'c'.repeat(40) },
    } as unknown as Artifact;
    const yaml = catalogYaml({ id: 'cat', version: 3, entries: [{ id: 'e1', name: 'img', artifact }] });
    const { sha256Hex } = await import('../src/layout-client.js');
    const bytes = approval({
      catalogs: [
        {
          id: 'cat',
          version: 3,
          sha256: sha256Hex(Buffer.from(yaml)),
          entries: [{ id: 'e1', sha256: 'b'.repeat(64) }],
        },
      ],
    });
    const v = verifier('entries');
    const verified = await v.verifyApproval({ bytes, signature: await pki.sign(bytes) }, new Date());
    expect(v.approvedEntries(verified, Buffer.from(yaml), 'cat', new Date()).map((e) => e.entry.id)).toEqual([
      'e1',
    ]);
    expect(() => v.approvedEntries(verified, Buffer.from(`${yaml}#`), 'cat', new Date())).toThrow(
      /differ from the approved sha256/,
    );
  });
});
