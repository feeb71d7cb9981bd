// What a transaction writes besides objects: its working catalogs and nothing else (no
// rollback-journal files created and deleted per commit, which cost file creations and, with
// SQLite's defaults, fsyncs).
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo | undefined;
afterEach(() => t?.cleanup());

const workFiles = (t: TestRepo) =>
  readdirSync(t.repo.layout.workDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes('.'));

describe('working catalogs', () => {
  it('keep no journal files beside them while a transaction writes', async () => {
    t = createTestRepo();
    const seen: string[] = [];
    await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/a/x', Buffer.from('x'));
      await tx.addFile('/n/.cvmfscatalog', Buffer.alloc(0));
      await tx.addFile('/n/y', Buffer.from('y'));
      await tx.flush();
      seen.push(...workFiles(t as TestRepo));
    });
    await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/n/z', Buffer.from('z'));
      await tx.flush();
      seen.push(...workFiles(t as TestRepo));
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((f) => !f.endsWith('.sqlite'))).toEqual([]);
  });
});
