// The store alone: a staged file is installed only when its sha256 matches (mismatch
// deletes the staging directory), install is one directory rename, archive keeps a copy.

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
