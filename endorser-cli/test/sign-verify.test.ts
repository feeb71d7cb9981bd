// sign and verify: several endorsers sign the same bytes, stock OpenSSL accepts each file,
// and verify rejects — with every reason — a tampered catalog, a tampered torrent, an
// untrusted or revoked signer, and (with an approval) what the site did not approve.

import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog, serializeDocument, signDetached } from '@trustswarm/policy';
import {
  createTestPki,
  makeApproval,
  opensslCmsVerifyFiles,
  type TestIdentity,
  type TestPki,
} from '@trustswarm/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, expectOneLineError, type Sandbox, sandbox } from './helpers.js';

let box: Sandbox;
let pki: TestPki;

const as = (id: TestIdentity) => ['--cert', id.certPath, '--key', id.keyPath];

interface Verdict {
  ok: boolean;
  catalog: { valid: boolean; reasons: Array<{ code: string; message: string }> };
  signatures: Array<{ file: string; valid: boolean; reasons: Array<{ code: string }> }>;
  entries: Array<{ name: string; allowed: boolean; reasons: Array<{ code: string; message: string }> }>;
}

async function verify(args: string[] = []): Promise<{ exitCode: number; verdict: Verdict }> {
  const r = await box.run(['--json', 'verify', '--ca', pki.caPathDir, ...args]);
  return { exitCode: r.exitCode, verdict: r.json() as unknown as Verdict };
}

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  pki = await createTestPki(join(box.dir, 'pki'));
  expect((await box.run(['catalog', 'new', 'signed-cat'])).exitCode).toBe(0);
  writeFileSync(join(box.dir, 'a.img'), Buffer.alloc(300_000, 7));
  writeFileSync(join(box.dir, 'b.img'), Buffer.alloc(200_000, 9));
  expect((await box.run(['add', 'image', 'a.img', '--vo', 'cms'])).exitCode).toBe(0);
  expect((await box.run(['add', 'image', 'b.img'])).exitCode).toBe(0);
});
afterAll(() => box.cleanup());

describe('sign', () => {
  it('two endorsers sign the same version; each file verifies with openssl cms', async () => {
    const { alice, bob } = pki.endorsers;
    expect((await box.run([...as(alice), 'sign'])).exitCode).toBe(0);
    expect((await box.run([...as(bob), 'sign'])).exitCode).toBe(0);
    const files = readdirSync(join(box.dir, 'signatures')).sort();
    expect(files).toEqual([`${alice.certificate.sha256}.p7s`, `${bob.certificate.sha256}.p7s`].sort());
    for (const f of files) {
      const verdict = opensslCmsVerifyFiles(
        join(box.dir, 'signatures', f),
        join(box.dir, 'catalog.yaml'),
        pki.caPathDir,
      );
      expect(verdict.stderr).toContain('Verification successful');
      expect(verdict.ok).toBe(true);
    }
    const { exitCode, verdict } = await verify(['--threshold', '2']);
    expect(verdict.signatures.every((s) => s.valid)).toBe(true);
    expect(verdict.entries.map((e) => e.allowed)).toEqual([true, true]);
    expect(exitCode).toBe(0);
  });

  it('signs a catalog file outside the workspace into --out', async () => {
    const other = join(box.dir, 'elsewhere.yaml');
    copyFileSync(join(box.dir, 'catalog.yaml'), other);
    const r = await box.run([
      '--json',
      ...as(pki.endorsers.carol),
      'sign',
      '--catalog',
      other,
      '--out',
      'carol-sigs',
    ]);
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(box.dir, 'carol-sigs', `${pki.endorsers.carol.certificate.sha256}.p7s`))).toBe(
      true,
    );
  });

  it('refuses to sign a catalog that does not parse', async () => {
    const bad = join(box.dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: trustswarm/v1\nkind: Catalog\nname: x\n');
    const before = readdirSync(join(box.dir, 'signatures'));
    expectOneLineError(
      await box.run([...as(pki.endorsers.alice), 'sign', '--catalog', bad]),
      1,
      /bad\.yaml: .*(id|required)/,
    );
    expect(readdirSync(join(box.dir, 'signatures'))).toEqual(before);
  });
});

describe('signatures and versions', () => {
  it('a change drops the old signatures from the workspace and keeps them in history/', async () => {
    const other = sandbox();
    try {
      await other.run(['catalog', 'new', 'versions']);
      expect((await other.run([...as(pki.endorsers.alice), 'sign'])).exitCode).toBe(0);
      expect((await other.run(['catalog', 'set-expiry', '+10d'])).exitCode).toBe(0);
      expect(existsSync(join(other.dir, 'signatures'))).toBe(false);
      const archived = readdirSync(join(other.dir, 'history', '1', 'signatures'));
      expect(archived).toEqual([`${pki.endorsers.alice.certificate.sha256}.p7s`]);
      const r = await other.run(['verify', '--ca', pki.caPathDir]);
      expect(r.exitCode).toBe(3);
    } finally {
      other.cleanup();
    }
  });
});

describe('verify', () => {
  it('fails without enough distinct signers and says so', async () => {
    const { exitCode, verdict } = await verify(['--threshold', '3']);
    expect(exitCode).toBe(3);
    expect(verdict.catalog.reasons[0]?.code).toBe('THRESHOLD_NOT_MET');
    // Every entry still gets a verdict, refused for the catalog's reasons.
    expect(verdict.entries.map((e) => e.allowed)).toEqual([false, false]);
    expect(verdict.entries[0]?.reasons[0]?.code).toBe('THRESHOLD_NOT_MET');
  });

  it('rejects a tampered catalog with a reason for every signature', async () => {
    const path = join(box.dir, 'tampered.yaml');
    copyFileSync(join(box.dir, 'catalog.yaml'), path);
    appendFileSync(path, '# edited after signing\n');
    const r = await box.run([
      '--json',
      'verify',
      '--ca',
      pki.caPathDir,
      '--catalog',
      path,
      '--signatures',
      'signatures',
    ]);
    expect(r.exitCode).toBe(3);
    const verdict = r.json() as unknown as Verdict;
    expect(verdict.ok).toBe(false);
    expect(verdict.signatures).toHaveLength(2);
    for (const s of verdict.signatures) {
      expect(s.valid).toBe(false);
      expect(s.reasons.map((x) => x.code)).toContain('DIGEST_MISMATCH');
    }
    expect(r.stderr).toBe('');
  });

  it('flags an entry whose local .torrent was altered', async () => {
    const c = parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));
    const torrent = join(box.dir, 'torrents', `${c.entries[0]?.artifact?.infoHash}.torrent`);
    const original = readFileSync(torrent);
    writeFileSync(torrent, Buffer.concat([original.subarray(0, original.length - 1), Buffer.from('x')]));
    try {
      const { exitCode, verdict } = await verify();
      expect(exitCode).toBe(3);
      expect(verdict.entries[0]?.allowed).toBe(false);
      expect(verdict.entries[0]?.reasons.map((r) => r.code)).toContain('DIGEST_MISMATCH');
      expect(verdict.entries[1]?.allowed).toBe(true);
    } finally {
      writeFileSync(torrent, original);
    }
  });

  it('--check-artifacts re-hashes the local bytes and flags a changed file', async () => {
    const ok = await verify(['--check-artifacts']);
    expect(ok.exitCode).toBe(0);
    const path = join(box.dir, 'b.img');
    const original = readFileSync(path);
    writeFileSync(path, Buffer.alloc(original.length, 8));
    try {
      const { exitCode, verdict } = await verify(['--check-artifacts']);
      expect(exitCode).toBe(3);
      expect(verdict.entries.map((e) => e.allowed)).toEqual([true, false]);
      expect(verdict.entries[1]?.reasons[0]?.code).toBe('DIGEST_MISMATCH');
    } finally {
      writeFileSync(path, original);
    }
  });

  it('does not count an untrusted or revoked signer', async () => {
    const other = sandbox();
    try {
      await other.run(['catalog', 'new', 'lonely']);
      expect((await other.run([...as(pki.untrusted), 'sign'])).exitCode).toBe(0);
      expect((await other.run([...as(pki.revoked), 'sign'])).exitCode).toBe(0);
      // Signing with the revoked certificate warns at once (advisory: the key is still the endorser's).
      const warned = await other.run(['--json', ...as(pki.revoked), 'sign'], {
        env: { TSW_ENDORSE_VERIFY_CA_PATH: pki.caPathDir },
      });
      expect(warned.exitCode).toBe(0);
      expect((warned.json().warnings as string[]).join('\n')).toMatch(
        /will refuse this signature: CERT_REVOKED/,
      );
      const r = await other.run(['--json', 'verify', '--ca', pki.caPathDir]);
      expect(r.exitCode).toBe(3);
      const verdict = r.json() as unknown as Verdict;
      const codes = verdict.signatures.flatMap((s) => s.reasons.map((x) => x.code)).sort();
      expect(codes).toEqual(['CERT_REVOKED', 'CERT_UNTRUSTED']);
      expect(verdict.catalog.reasons.map((x) => x.code)).toContain('THRESHOLD_NOT_MET');
    } finally {
      other.cleanup();
    }
  });

  it('fails loudly on a missing CA directory', async () => {
    expectOneLineError(
      await box.run(['verify', '--ca', join(box.dir, 'no-ca')]),
      3,
      /cannot read CA directory/,
    );
  });
});

describe('verify --approval', () => {
  function writeApproval(signer: TestIdentity, approvedEntries?: number): string {
    const bytes = readFileSync(join(box.dir, 'catalog.yaml'));
    const catalog = parseCatalog(bytes);
    const trust = { threshold: 1, endorsers: [pki.endorsers.alice.rule] };
    const approval = makeApproval([{ catalog, bytes }], trust);
    if (approvedEntries !== undefined) {
      const ref = approval.catalogs[0];
      if (ref) ref.entries = ref.entries.slice(0, approvedEntries);
    }
    const approvalBytes = serializeDocument(approval);
    const path = join(box.dir, 'approval.yaml');
    writeFileSync(path, approvalBytes);
    writeFileSync(`${path}.p7s`, signDetached(approvalBytes, signer));
    return path;
  }

  it('allows the approved entries of a trusted endorser', async () => {
    const path = writeApproval(pki.site);
    const { exitCode, verdict } = await verify([
      '--approval',
      path,
      '--site-cert',
      pki.site.certPath,
      '--site',
      'EXAMPLE-SITE',
    ]);
    expect(verdict.entries.map((e) => e.allowed)).toEqual([true, true]);
    expect(exitCode).toBe(0);
  });

  it('reports NOT_APPROVED for an entry the site left out', async () => {
    const path = writeApproval(pki.site, 1);
    const { exitCode, verdict } = await verify(['--approval', path, '--site-cert', pki.site.certPath]);
    expect(exitCode).toBe(3);
    expect(verdict.entries.map((e) => e.allowed)).toEqual([true, false]);
    expect(verdict.entries[1]?.reasons[0]?.code).toBe('NOT_APPROVED');
  });

  it('rejects an approval signed by someone who is not the site', async () => {
    const path = writeApproval(pki.endorsers.bob);
    const { exitCode, verdict } = await verify(['--approval', path, '--site-cert', pki.site.certPath]);
    expect(exitCode).toBe(3);
    expect(verdict.catalog.reasons[0]?.code).toBe('NOT_AUTHORISED_SIGNER');
  });

  it('needs a site signer to believe any approval', async () => {
    const path = writeApproval(pki.site);
    expectOneLineError(
      await box.run(['verify', '--ca', pki.caPathDir, '--approval', path]),
      2,
      /site signer/,
    );
  });
});
