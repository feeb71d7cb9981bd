import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BridgeErrorCode, isBridgeError } from '../src/errors.js';
import { objectPath } from '../src/format/hash.js';
import { signWhitelist } from '../src/format/whitelist.js';
import { verifyRevision } from '../src/reader/verify-all.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo;
let other: TestRepo;
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  t = createTestRepo();
  other = createTestRepo({}, 'other.example.org');
  await withTransaction(t.repo, async (tx) => {
    await tx.addFile('/data/a.txt', Buffer.from('alpha '.repeat(50)));
    await tx.addFile('/data/b.txt', Buffer.from('beta '.repeat(50)));
  });
  for (const f of ['.cvmfspublished', '.cvmfswhitelist'])
    files[f] = readFileSync(`${t.repo.layout.publicDir}/${f}`);
});
afterAll(() => {
  t.cleanup();
  other.cleanup();
});

function restore(): void {
  for (const [f, bytes] of Object.entries(files)) writeFileSync(`${t.repo.layout.publicDir}/${f}`, bytes);
}

async function expectRefusal(
  code: BridgeErrorCode,
  options: Parameters<TestRepo['reader']>[0] = {},
): Promise<void> {
  const attempt = async () => {
    const reader = await t.reader(options);
    try {
      await verifyRevision(reader);
    } finally {
      reader.close();
    }
  };
  await expect(attempt()).rejects.toSatisfy((e: unknown) => isBridgeError(e, code));
}

/** Rewrites a signed file's body and recomputes the hash line, keeping the old signature. */
function reSealWithOldSignature(file: string, edit: (body: string) => string): void {
  const bytes = readFileSync(file);
  const at = bytes.indexOf('\n--\n');
  const body = Buffer.from(edit(bytes.subarray(0, at + 1).toString()));
  const rest = bytes.subarray(at + 4);
  const signature = rest.subarray(rest.indexOf(0x0a) + 1);
  const hash = createHash('sha1').update(body).digest('hex');
  writeFileSync(file, Buffer.concat([body, Buffer.from(`--\n${hash}\n`), signature]));
}

describe('reader trust checks', () => {
  it('accepts the untouched repository', async () => {
    const reader = await t.reader();
    try {
      expect((await verifyRevision(reader)).files).toBe(2);
    } finally {
      reader.close();
    }
  });

  it('refuses a manifest whose body no longer matches its hash line', async () => {
    const file = `${t.repo.layout.publicDir}/.cvmfspublished`;
    writeFileSync(
      file,
      Buffer.from(
        readFileSync(file)
          .toString('latin1')
          .replace(/\nS(\d+)\n/, '\nS99\n'),
        'latin1',
      ),
    );
    await expectRefusal('MANIFEST_INVALID');
    restore();
  });

  it('refuses a manifest re-hashed without a valid signature', async () => {
    reSealWithOldSignature(`${t.repo.layout.publicDir}/.cvmfspublished`, (b) =>
      b.replace(/\nS(\d+)\n/, '\nS99\n'),
    );
    await expectRefusal('MANIFEST_SIGNATURE_INVALID');
    restore();
  });

  it('refuses a whitelist whose dates were extended without the master key', async () => {
    reSealWithOldSignature(`${t.repo.layout.publicDir}/.cvmfswhitelist`, (b) =>
      b.replace(/\nE(\d{4})/, '\nE2999'),
    );
    await expectRefusal('WHITELIST_SIGNATURE_INVALID');
    restore();
  });

  it('refuses an expired whitelist', async () => {
    await expectRefusal('WHITELIST_EXPIRED', { now: new Date(Date.now() + 31 * 86_400_000) });
  });

  it('refuses a whitelist checked against the wrong master key', async () => {
    await expectRefusal('WHITELIST_SIGNATURE_INVALID', { masterKeys: [other.repo.masterPublicKey()] });
  });

  it('refuses a certificate the whitelist does not list', async () => {
    const masterKey = readFileSync(t.repo.layout.masterKeyFile, 'utf8');
    const now = new Date();
    const forged = signWhitelist(
      {
        createdAt: now,
        expiresAt: new Date(now.getTime() + 86_400_000),
        name: t.repo.fqrn,
        fingerprints: [`${'AB:'.repeat(19)}AB`],
      },
      masterKey,
    );
    writeFileSync(`${t.repo.layout.publicDir}/.cvmfswhitelist`, forged);
    await expectRefusal('CERTIFICATE_NOT_WHITELISTED');
    restore();
  });

  it('refuses a tampered catalog', async () => {
    const catalogFile = `${t.repo.layout.publicDir}/${objectPath(t.repo.manifest().rootCatalogHash, 'C')}`;
    const original = readFileSync(catalogFile);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 10] = (tampered[tampered.length - 10] ?? 0) ^ 0xff;
    writeFileSync(catalogFile, tampered);
    await expectRefusal('HASH_MISMATCH');
    writeFileSync(catalogFile, original);
  });

  it('refuses a tampered file object', async () => {
    const reader = await t.reader();
    const hash = (await reader.lookup('/data/a.txt'))?.hash as string;
    reader.close();
    const objectFile = `${t.repo.layout.publicDir}/${objectPath(hash)}`;
    const original = readFileSync(objectFile);
    const tampered = Buffer.from(original);
    tampered[5] = (tampered[5] ?? 0) ^ 0x01;
    writeFileSync(objectFile, tampered);
    await expectRefusal('HASH_MISMATCH');
    writeFileSync(objectFile, original);
  });

  it('emits no byte of a tampered large object', async () => {
    await withTransaction(t.repo, async (tx) => tx.addFile('/data/large.bin', randomBytes(3 * 1024 * 1024)));
    for (const f of ['.cvmfspublished', '.cvmfswhitelist'])
      files[f] = readFileSync(`${t.repo.layout.publicDir}/${f}`);
    const reader = await t.reader();
    try {
      const entry = await reader.lookup('/data/large.bin');
      const objectFile = `${t.repo.layout.publicDir}/${objectPath(entry?.hash as string)}`;
      const original = readFileSync(objectFile);
      const tampered = Buffer.from(original);
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01;
      writeFileSync(objectFile, tampered);
      let emitted = 0;
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          emitted += chunk.length;
          cb();
        },
      });
      await expect(reader.streamFile('/data/large.bin', sink)).rejects.toSatisfy((e: unknown) =>
        isBridgeError(e, 'HASH_MISMATCH'),
      );
      expect(emitted).toBe(0);
      writeFileSync(objectFile, original);
      expect((await reader.readFile('/data/large.bin')).equals(original)).toBe(entry?.compressed === false);
    } finally {
      reader.close();
    }
  });

  it('refuses a manifest for another repository name', async () => {
    writeFileSync(
      `${t.repo.layout.publicDir}/.cvmfspublished`,
      readFileSync(`${other.repo.layout.publicDir}/.cvmfspublished`),
    );
    await expectRefusal('MANIFEST_INVALID');
    restore();
  });
});
