// Format details checked with independent tools: OpenSSL for both signature schemes and the
// certificate fingerprint, the sqlite3 CLI for the catalog, Python's zlib/hashlib/struct for
// object naming and MD5 path keys.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectPath } from '../src/format/hash.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo, tempDir } from './helpers.js';

let t: TestRepo;
let work: string;

function run(cmd: string, args: string[], input?: Buffer): string {
  return execFileSync(cmd, args, { ...(input ? { input } : {}), encoding: 'utf8' });
}

function splitSigned(file: string): { body: Buffer; hash: string; signature: Buffer } {
  const bytes = readFileSync(file);
  const at = bytes.indexOf('\n--\n');
  const rest = bytes.subarray(at + 4);
  const nl = rest.indexOf(0x0a);
  return {
    body: bytes.subarray(0, at + 1),
    hash: rest.subarray(0, nl).toString(),
    signature: rest.subarray(nl + 1),
  };
}

beforeAll(async () => {
  t = createTestRepo();
  work = tempDir('tsw-conf-');
  await withTransaction(t.repo, async (tx) => {
    await tx.addFile('/sw/hello.txt', Buffer.from('hello '.repeat(100)));
    await tx.addFile('/sw/n/.cvmfscatalog', Buffer.alloc(0));
    await tx.addFile('/sw/n/inner', Buffer.from('inner'));
  });
});
afterAll(() => {
  t.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('independent tools agree with the format', () => {
  it('openssl verifies the manifest signature with the repository certificate', () => {
    const { body, hash, signature } = splitSigned(t.repo.layout.manifestFile);
    expect(run('openssl', ['dgst', '-sha1', '-r'], body).split(' ')[0]).toBe(hash);
    const certObject = join(t.repo.layout.publicDir, objectPath(t.repo.manifest().certificateHash, 'X'));
    writeFileSync(join(work, 'cert.pem'), inflateSync(readFileSync(certObject)));
    writeFileSync(
      join(work, 'pub.pem'),
      run('openssl', ['x509', '-in', join(work, 'cert.pem'), '-pubkey', '-noout']),
    );
    writeFileSync(join(work, 'hash.txt'), hash);
    writeFileSync(join(work, 'sig.bin'), signature);
    const out = run('openssl', [
      'dgst',
      '-sha1',
      '-verify',
      join(work, 'pub.pem'),
      '-signature',
      join(work, 'sig.bin'),
      join(work, 'hash.txt'),
    ]);
    expect(out.trim()).toBe('Verified OK');
  });

  it('openssl recovers the whitelist hash with the master public key, and the fingerprint matches', () => {
    const { body, hash, signature } = splitSigned(t.repo.layout.whitelistFile);
    writeFileSync(join(work, 'wl.sig'), signature);
    const recovered = run('openssl', [
      'pkeyutl',
      '-verifyrecover',
      '-pubin',
      '-inkey',
      t.repo.layout.masterPublicKeyFile,
      '-in',
      join(work, 'wl.sig'),
      '-pkeyopt',
      'rsa_padding_mode:pkcs1',
    ]);
    expect(recovered).toBe(hash);
    const fingerprint = run('openssl', [
      'x509',
      '-in',
      t.repo.layout.certificateFile,
      '-noout',
      '-fingerprint',
      '-sha1',
    ])
      .trim()
      .split('=')[1];
    expect(body.toString().split('\n')[3]).toBe(fingerprint);
  });

  it('the sqlite3 CLI reads the root catalog with schema 2.5 keys and statistics', () => {
    const stored = readFileSync(
      join(t.repo.layout.publicDir, objectPath(t.repo.manifest().rootCatalogHash, 'C')),
    );
    const dbFile = join(work, 'root.sqlite');
    writeFileSync(dbFile, inflateSync(stored));
    expect(run('sqlite3', [dbFile, 'PRAGMA integrity_check;']).trim()).toBe('ok');
    expect(
      run('sqlite3', [
        dbFile,
        "SELECT md5path_1 || ',' || md5path_2 || ',' || flags FROM catalog WHERE name = '' AND parent_1 = 0;",
      ]).trim(),
    ).toBe('338333539836370388,9098107892288553193,1');
    expect(
      run('sqlite3', [
        dbFile,
        "SELECT value FROM properties WHERE key IN ('schema','schema_revision') ORDER BY key;",
      ]).trim(),
    ).toBe('2.5\n7');
    expect(Number(run('sqlite3', [dbFile, 'SELECT count(*) FROM statistics;']))).toBe(24);
    expect(run('sqlite3', [dbFile, 'SELECT path FROM nested_catalogs;']).trim()).toBe('/sw/n');
    expect(Number(run('sqlite3', [dbFile, "SELECT flags FROM catalog WHERE name = 'n';"]))).toBe(3);
    expect(
      Number(run('sqlite3', [dbFile, "SELECT value FROM statistics WHERE counter = 'subtree_regular';"])),
    ).toBe(2);

    // Python computes the MD5 path key and the object name independently.
    const py = `
import hashlib, struct, sqlite3, zlib, sys
d = hashlib.md5(b'/sw/hello.txt').digest()
hi, lo = struct.unpack('<qq', d)
con = sqlite3.connect(sys.argv[1])
row = con.execute('SELECT hex(hash), size FROM catalog WHERE md5path_1=? AND md5path_2=?', (hi, lo)).fetchone()
h = row[0].lower()
stored = open(sys.argv[2] + '/data/' + h[:2] + '/' + h[2:], 'rb').read()
assert hashlib.sha1(stored).hexdigest() == h, 'object name is not the sha1 of its bytes'
assert zlib.decompress(stored) == b'hello ' * 100
print(row[1])
`;
    expect(run('python3', ['-c', py, dbFile, t.repo.layout.publicDir]).trim()).toBe('600');
  });
});
