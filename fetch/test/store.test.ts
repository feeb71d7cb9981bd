// The store alone: a staged file is installed only when its sha256 matches (mismatch
// deletes the staging directory), a sha256 computed during the download is used only for a
// file of the size that was hashed, install is one directory rename, archive keeps a copy.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, sha256Hex } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-store-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function stage(store: ImageStore, infoHash: string, bytes: string): Promise<void> {
  await mkdir(store.stagingDir(infoHash), { recursive: true });
  await writeFile(join(store.stagingDir(infoHash), 'img.qcow2'), bytes);
}

describe('ImageStore', () => {
  it('installs a matching file, refuses a mismatching one and cleans its staging', async () => {
    const store = new ImageStore(join(dir, 'data'));
    await store.init();
    await stage(store, 'a'.repeat(40), 'good bytes');
    const path = await store.install({
      entryId: 'entry-1',
      infoHash: 'a'.repeat(40),
      fileName: 'img.qcow2',
      expectedSha256: sha256Hex(Buffer.from('good bytes')),
    });
    expect(await readFile(path, 'utf8')).toBe('good bytes');
    expect(await readdir(join(dir, 'data', 'staging'))).toEqual([]);

    await stage(store, 'b'.repeat(40), 'tampered');
    await expect(
      store.install({
        entryId: 'entry-2',
        infoHash: 'b'.repeat(40),
        fileName: 'img.qcow2',
        expectedSha256: sha256Hex(Buffer.from('original')),
      }),
    ).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
    expect(await store.isInstalled('entry-2', 'img.qcow2')).toBe(false);
    expect(await readdir(join(dir, 'data', 'staging'))).toEqual([]);
  });

  it('uses the hash computed during download only while the file has the size that was hashed', async () => {
    const store = new ImageStore(join(dir, 'data'));
    const good = sha256Hex(Buffer.from('good bytes'));
    // A staged hash that matches is trusted without a second read…
    await stage(store, 'c'.repeat(40), 'good bytes');
    await store.install({
      entryId: 'entry-3',
      infoHash: 'c'.repeat(40),
      fileName: 'img.qcow2',
      expectedSha256: good,
      staged: { sha256: good, size: 10 },
    });
    expect(await store.isInstalled('entry-3', 'img.qcow2')).toBe(true);
    // …a staged hash that differs from the approved one is refused like a read one…
    await stage(store, 'd'.repeat(40), 'good bytes');
    await expect(
      store.install({
        entryId: 'entry-4',
        infoHash: 'd'.repeat(40),
        fileName: 'img.qcow2',
        expectedSha256: good,
        staged: { sha256: sha256Hex(Buffer.from('other')), size: 10 },
      }),
    ).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
    expect(await readdir(join(dir, 'data', 'staging'))).toEqual([]);
    // …and when the file grew after it was hashed, the file itself is hashed again.
    await stage(store, 'e'.repeat(40), 'good bytes+appended');
    await expect(
      store.install({
        entryId: 'entry-5',
        infoHash: 'e'.repeat(40),
        fileName: 'img.qcow2',
        expectedSha256: good,
        staged: { sha256: good, size: 10 },
      }),
    ).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
    expect(await store.isInstalled('entry-5', 'img.qcow2')).toBe(false);
  });

  it('archives an installed entry out of images/', async () => {
    const store = new ImageStore(join(dir, 'data'));
    const archived = await store.archive('entry-1', new Date('2026-11-22T10:00:00Z'));
    expect(archived).toMatch(/archive\/entry-1-2026-11-22T10-00-00-000Z$/);
    expect(await readFile(join(archived, 'img.qcow2'), 'utf8')).toBe('good bytes');
    expect(await store.isInstalled('entry-1', 'img.qcow2')).toBe(false);
  });

  it('refuses ids that could escape the data directory', () => {
    const store = new ImageStore(join(dir, 'data'));
    expect(() => store.imageDir('../etc')).toThrow(/unsafe entry id/);
    expect(() => store.stagingDir('a/b')).toThrow(/unsafe info hash/);
  });
});
