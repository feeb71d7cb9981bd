// import-hepix: lists signed with `openssl smime -sign` (as vmcaster does) are verified by
// stock openssl against the CApath, flagged for SHA-1 and year-2499 expiry, and turned into
// entries whose files match the list's sha512; every tampering or mismatch is refused.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog } from '@trustswarm/policy';
import { createTestPki, type TestIdentity, type TestPki } from '@trustswarm/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, expectOneLineError, type Sandbox, sandbox } from './helpers.js';

let box: Sandbox;
let pki: TestPki;
const LIST_ID = '7b1a3c8e-2f4d-4c55-9a0e-1d2c3b4a5f60';
const IMAGE_ID = '0f7d8e2a-6b1c-4e3f-8a9b-5c4d3e2f1a0b';

function imageList(signer: TestIdentity, opts: { expires?: string; sha512?: string } = {}): string {
  const example = JSON.parse(readFileSync('/work/shared/data/hepix-imagelist-example.json', 'utf8'));
  const il = example['hv:imagelist'];
  il['hv:endorser']['hv:x509']['hv:dn'] = signer.certificate.subject;
  il['hv:endorser']['hv:x509']['hv:ca'] = signer.certificate.issuer;
  if (opts.expires) il['dc:date:expires'] = opts.expires;
  const image = il['hv:images'][0]['hv:image'];
  const bytes = readFileSync(join(box.dir, 'files', 'alma9-wn.qcow2'));
  image['sl:checksum:sha512'] = opts.sha512 ?? createHash('sha512').update(bytes).digest('hex');
  image['hv:size'] = String(bytes.length);
  il['hv:images'].push({
    'hv:image': {
      ...image,
      'dc:identifier': 'not-a-uuid',
      'hv:uri': 'https://images.example.org/absent.qcow2',
      'dc:title': 'Absent',
    },
  });
  return JSON.stringify(example, null, 2);
}

function signList(name: string, json: string, signer: TestIdentity, args: string[] = []): string {
  const plain = join(box.dir, `${name}.json`);
  const out = join(box.dir, `${name}.smime`);
  writeFileSync(plain, json);
  execFileSync('openssl', [
    'smime',
    '-sign',
    '-in',
    plain,
    '-signer',
    signer.certPath,
    '-inkey',
    signer.keyPath,
    '-out',
    out,
    ...args,
  ]);
  return out;
}

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  pki = await createTestPki(join(box.dir, 'pki'));
  mkdirSync(join(box.dir, 'files'));
  writeFileSync(join(box.dir, 'files', 'alma9-wn.qcow2'), Buffer.alloc(100_000, 5));
});
afterAll(() => box.cleanup());

interface ImportData {
  warnings: string[];
  images: Array<{ title: string; status: string; detail?: string }>;
  digestAlgorithms: string[];
}

describe('import-hepix', () => {
  it('imports a SHA-256 multipart list into a new catalog with the list id', async () => {
    const file = signList('good', imageList(pki.endorsers.alice), pki.endorsers.alice, ['-md', 'sha256']);
    const ws = join(box.dir, 'ws-good');
    const r = await box.run([
      '--json',
      '-C',
      ws,
      'import-hepix',
      file,
      '--ca',
      pki.caPathDir,
      '--files',
      'files',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const d = r.json() as unknown as ImportData;
    expect(d.warnings).toEqual([]);
    expect(d.digestAlgorithms).toEqual(['sha256']);
    expect(d.images.map((i) => i.status)).toEqual(['imported', 'pending']);
    const c = parseCatalog(readFileSync(join(ws, 'catalog.yaml')));
    expect(c.id).toBe(LIST_ID);
    const e = c.entries[0];
    expect(e?.id).toBe(IMAGE_ID);
    expect(e?.version).toBe('9.4-20261101');
    expect(e?.image).toMatchObject({
      os: 'AlmaLinux',
      osVersion: '9.4',
      hypervisor: 'kvm',
      format: 'qcow2',
      ramMinimumBytes: 2048 * 1024 * 1024,
      coreMinimum: 2,
    });
    expect(e?.voTags).toEqual(['example.vo']);
    expect(e?.artifact?.sha512).toBe(
      createHash('sha512')
        .update(readFileSync(join(box.dir, 'files', 'alma9-wn.qcow2')))
        .digest('hex'),
    );
  });

  it('imports an opaque SHA-1 list with a year-2499 expiry, flagging both', async () => {
    const file = signList(
      'old',
      imageList(pki.endorsers.alice, { expires: '2499-12-31T00:00:00Z' }),
      pki.endorsers.alice,
      ['-md', 'sha1', '-nodetach'],
    );
    const ws = join(box.dir, 'ws-old');
    const r = await box.run([
      '--json',
      '-C',
      ws,
      'import-hepix',
      file,
      '--ca',
      pki.caPathDir,
      '--files',
      'files',
    ]);
    expect(r.exitCode).toBe(0);
    const d = r.json() as unknown as ImportData;
    expect(d.digestAlgorithms).toEqual(['sha1']);
    expect(d.warnings.join('\n')).toMatch(/SHA-1/);
    expect(d.warnings.join('\n')).toMatch(/2499/);
  });

  it('reads a list signed with -text (a MIME header inside the signed content)', async () => {
    const file = signList('text', imageList(pki.endorsers.alice), pki.endorsers.alice, [
      '-md',
      'sha256',
      '-text',
    ]);
    const ws = join(box.dir, 'ws-text');
    const r = await box.run([
      '--json',
      '-C',
      ws,
      'import-hepix',
      file,
      '--ca',
      pki.caPathDir,
      '--files',
      'files',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((r.json() as unknown as ImportData).images[0]?.status).toBe('imported');
  });

  it('rejects a tampered list and writes nothing', async () => {
    const file = signList('tampered', imageList(pki.endorsers.alice), pki.endorsers.alice, ['-md', 'sha256']);
    writeFileSync(file, readFileSync(file, 'utf8').replace('9.4-20261101', '9.5-20261101'));
    const ws = join(box.dir, 'ws-tampered');
    expectOneLineError(
      await box.run(['-C', ws, 'import-hepix', file, '--ca', pki.caPathDir, '--files', 'files']),
      3,
      /signature rejected by openssl/,
    );
    expect(existsSync(join(ws, 'catalog.yaml'))).toBe(false);
  });

  it('rejects a signer the CA directory does not vouch for, or a revoked one', async () => {
    for (const signer of [pki.untrusted, pki.revoked]) {
      const file = signList(`bad-${signer.name.replace(/\W/g, '')}`, imageList(signer), signer, [
        '-md',
        'sha256',
      ]);
      expectOneLineError(
        await box.run(['-C', join(box.dir, 'ws-bad'), 'import-hepix', file, '--ca', pki.caPathDir]),
        3,
        /signature rejected by openssl/,
      );
    }
    expect(existsSync(join(box.dir, 'ws-bad', 'catalog.yaml'))).toBe(false);
  });

  it('rejects a list signed by someone other than the endorser it names', async () => {
    const file = signList('impostor', imageList(pki.endorsers.alice), pki.endorsers.bob, ['-md', 'sha256']);
    expectOneLineError(
      await box.run(['-C', join(box.dir, 'ws-imp'), 'import-hepix', file, '--ca', pki.caPathDir]),
      1,
      /signed by .*Bob.* but the list names endorser .*Alice/,
    );
  });

  it('does not import an image whose file differs from the list checksum', async () => {
    const file = signList(
      'mismatch',
      imageList(pki.endorsers.alice, { sha512: 'ab'.repeat(64) }),
      pki.endorsers.alice,
      ['-md', 'sha256'],
    );
    const ws = join(box.dir, 'ws-mismatch');
    const r = await box.run([
      '--json',
      '-C',
      ws,
      'import-hepix',
      file,
      '--ca',
      pki.caPathDir,
      '--files',
      'files',
    ]);
    expect(r.exitCode).toBe(3);
    const d = r.json() as unknown as ImportData;
    expect(d.images[0]?.status).toBe('rejected');
    expect(parseCatalog(readFileSync(join(ws, 'catalog.yaml'))).entries).toEqual([]);
  });

  it('names a missing list file', async () => {
    expectOneLineError(
      await box.run(['import-hepix', 'nope.smime', '--ca', pki.caPathDir]),
      1,
      /image list nope\.smime: no such file/,
    );
  });
});
