// Subtree copies between catalogs on the copy thread (CatalogDb.copySubtreesFromAsync): the
// same rows as the copy on this thread, and the destination unusable until it is done.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CatalogDb } from '../src/catalog/catalog-db.js';
import { copyWorker } from '../src/catalog/copy-worker.js';
import type { Dirent } from '../src/catalog/dirent.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const dir = (name: string, linkcount = 2): Dirent => ({
  name,
  kind: 'dir',
  mode: 0o40755,
  sizeBytes: 4096,
  mtime: 1,
  uid: 0,
  gid: 0,
  linkcount,
  hardlinkGroup: 0,
});
const file = (name: string, i: number): Dirent => ({
  name,
  kind: 'file',
  mode: 0o100644,
  sizeBytes: i,
  mtime: i,
  uid: i % 3,
  gid: 0,
  linkcount: 1,
  hardlinkGroup: 0,
  hash: i.toString(16).padStart(40, '0'),
  compressed: true,
});

/** Every row below `root` as (path relative to root, dirent), depth first. */
function rowsBelow(db: CatalogDb, root: string, rel = ''): [string, Dirent][] {
  const out: [string, Dirent][] = [];
  for (const d of db.children(`${root}${rel}`)) {
    out.push([`${rel}/${d.name}`, d]);
    if (d.kind === 'dir') out.push(...rowsBelow(db, root, `${rel}/${d.name}`));
  }
  return out;
}

describe('catalog subtree copy on the copy thread', () => {
  it('copies the same rows as the copy on this thread, and the catalog is lent meanwhile', async () => {
    const work = mkdtempSync(join(tmpdir(), 'tsw-catalog-copy-'));
    dirs.push(work);
    const source = CatalogDb.create(join(work, 'src.sqlite'), '/.chains/ab/abc', dir(''));
    for (let d = 0; d < 20; d++) {
      source.put(`/.chains/ab/abc/d${d}`, dir(`d${d}`));
      for (let f = 0; f < 50; f++) source.put(`/.chains/ab/abc/d${d}/f${f}`, file(`f${f}`, d * 100 + f));
      source.put(`/.chains/ab/abc/d${d}/.cvmfscatalog`, file('.cvmfscatalog', 0));
    }
    const jobs = (to: string) => [{ from: '/.chains/ab/abc', to }];
    const exclude = { names: ['.cvmfscatalog'] };
    const here = CatalogDb.create(join(work, 'here.sqlite'), '/.flat/cd/one', dir(''));
    const there = CatalogDb.create(join(work, 'there.sqlite'), '/.flat/cd/two', dir(''));
    const expected = here.copySubtreesFrom(source, jobs('/.flat/cd/one'), exclude);
    const copying = there.copySubtreesFromAsync(source, jobs('/.flat/cd/two'), exclude, copyWorker());
    // Lent to the copy thread: a use fails instead of interleaving with the copy.
    expect(() => there.get('/.flat/cd/two')).toThrow(/not open/);
    expect(await copying).toEqual(expected);
    expect(expected).toEqual([{ rows: 20 * 51, topDirs: 20 }]);
    expect(rowsBelow(there, '/.flat/cd/two')).toEqual(rowsBelow(here, '/.flat/cd/one'));
    expect(rowsBelow(there, '/.flat/cd/two')).toHaveLength(20 * 51);
    // The destination is usable again, its keys those of its own paths.
    expect(there.get('/.flat/cd/two/d7/f3')).toMatchObject({ kind: 'file', sizeBytes: 703 });
    there.put('/.flat/cd/two/new', file('new', 1));
    expect(there.get('/.flat/cd/two/new')?.name).toBe('new');
    for (const c of [source, here, there]) c.close();
  });

  it('fails with the reason when the copy cannot run, and the catalog is usable again', async () => {
    const work = mkdtempSync(join(tmpdir(), 'tsw-catalog-copy-'));
    dirs.push(work);
    const source = CatalogDb.create(join(work, 'src.sqlite'), '/a', dir(''));
    source.put('/a/x', file('x', 1));
    const dest = CatalogDb.create(join(work, 'dest.sqlite'), '/b', dir(''));
    // The destination already has the row the copy would insert: the copy fails whole.
    dest.put('/b/x', file('x', 2));
    await expect(
      dest.copySubtreesFromAsync(source, [{ from: '/a', to: '/b' }], { names: [] }, copyWorker()),
    ).rejects.toThrow(/catalog copy failed: UNIQUE constraint failed/);
    expect(dest.get('/b/x')).toMatchObject({ sizeBytes: 2 });
    source.close();
    dest.close();
  });
});
