import { afterEach, describe, expect, it } from 'vitest';
import { verifyRevision } from '../src/reader/verify-all.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo | undefined;
afterEach(() => t?.cleanup());

async function rootNested(t: TestRepo): Promise<string[]> {
  const reader = await t.reader();
  try {
    return await reader.nestedOf('');
  } finally {
    reader.close();
  }
}

describe('nested catalogs', () => {
  it('creates a nested catalog where .cvmfscatalog appears and merges it back when removed', async () => {
    t = createTestRepo();
    await withTransaction(t.repo, async (tx) => {
      for (let i = 0; i < 20; i++) await tx.addFile(`/a/sub/f${i}`, Buffer.from(`file ${i}`));
      await tx.addFile('/a/sub/.cvmfscatalog', Buffer.alloc(0));
      await tx.addFile('/a/sub/deeper/.cvmfscatalog', Buffer.alloc(0));
      await tx.addFile('/a/sub/deeper/x', Buffer.from('x'));
      await tx.addFile('/b/file', Buffer.from('b'));
    });
    expect(await rootNested(t)).toEqual(['/a/sub']);
    let reader = await t.reader();
    try {
      expect(await reader.nestedOf('/a/sub')).toEqual(['/a/sub/deeper']);
      expect((await reader.readFile('/a/sub/deeper/x')).toString()).toBe('x');
      const stats = await reader.catalogCounters('');
      expect(stats.subtree.regular).toBe(23n);
      expect(stats.subtree.nested).toBe(1n);
      expect(stats.self.nested).toBe(1n);
      const report = await verifyRevision(reader);
      expect(report.catalogs).toBe(3);
      expect(report.files).toBe(24);
    } finally {
      reader.close();
    }

    // Change only /b: the nested catalogs must not be rewritten.
    const second = await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/b/file2', Buffer.from('b2'));
    });
    expect(second.catalogsWritten).toBe(1);

    // Change deep inside: the chain up to the root is rewritten, the statistics follow.
    const third = await withTransaction(t.repo, async (tx) => {
      await tx.remove('/a/sub/deeper/x');
    });
    expect(third.catalogsWritten).toBe(3);

    await withTransaction(t.repo, async (tx) => {
      await tx.remove('/a/sub/.cvmfscatalog');
    });
    expect(await rootNested(t)).toEqual(['/a/sub/deeper']);
    reader = await t.reader();
    try {
      expect((await reader.readFile('/a/sub/f7')).toString()).toBe('file 7');
      const report = await verifyRevision(reader);
      expect(report.catalogs).toBe(2);
      expect(report.files).toBe(23);
    } finally {
      reader.close();
    }
  });

  it('splits a catalog that grows past the entry limit', async () => {
    t = createTestRepo({ maxCatalogEntries: 50 });
    const result = await withTransaction(t.repo, async (tx) => {
      for (let d = 0; d < 4; d++)
        for (let i = 0; i < 30; i++) await tx.addFile(`/big/d${d}/f${i}`, Buffer.from(`${d}/${i}`));
    });
    expect(result.catalogsSplit).toBeGreaterThanOrEqual(3);
    const reader = await t.reader();
    try {
      const report = await verifyRevision(reader);
      expect(report.catalogs).toBe(result.catalogsSplit + 1);
      expect(report.files).toBe(120 + result.catalogsSplit);
      expect((await reader.readFile('/big/d3/f29')).toString()).toBe('3/29');
      expect(await reader.lookup('/big/d0/.cvmfsautocatalog')).toBeDefined();
      for (const m of await reader.nestedOf('')) {
        expect((await reader.catalogCounters(m)).entries).toBeLessThanOrEqual(50);
      }
    } finally {
      reader.close();
    }
  });

  it('removes a subtree holding nested catalogs and keeps statistics right', async () => {
    t = createTestRepo();
    await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/x/n/.cvmfscatalog', Buffer.alloc(0));
      await tx.addFile('/x/n/m/.cvmfscatalog', Buffer.alloc(0));
      await tx.addFile('/x/n/m/file', Buffer.from('f'));
      await tx.addFile('/keep', Buffer.from('k'));
    });
    await withTransaction(t.repo, async (tx) => {
      await tx.remove('/x');
    });
    const reader = await t.reader();
    try {
      expect(await reader.lookup('/x')).toBeUndefined();
      const stats = await reader.catalogCounters('');
      expect(stats.subtree.regular).toBe(0n);
      expect(stats.self.regular).toBe(1n);
      expect((await verifyRevision(reader)).catalogs).toBe(1);
    } finally {
      reader.close();
    }
  });
});
