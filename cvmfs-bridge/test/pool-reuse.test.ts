// Worker threads kept between transactions of one process (store/pool-reuse.ts).
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { closeIdlePool, takePool } from '../src/store/pool-reuse.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo, tempDir } from './helpers.js';

let t: TestRepo | undefined;
afterEach(async () => {
  await closeIdlePool();
  t?.cleanup();
  t = undefined;
});

const threads = () => new Set(readdirSync('/proc/self/task'));

describe('worker pool reuse', () => {
  it('a second transaction stores its files with the threads the first one started', async () => {
    t = createTestRepo();
    await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/a', Buffer.from('one'));
    });
    const afterFirst = threads();
    let during = new Set<string>();
    const second = await withTransaction(t.repo, async (tx) => {
      for (let i = 0; i < 20; i++) await tx.addFile(`/d/f${i}`, Buffer.from(`file ${i}`));
      await tx.flush();
      during = threads();
    });
    expect(second.filesStored).toBe(20);
    expect([...during].filter((tid) => !afterFirst.has(tid))).toEqual([]);
    const reader = await t.reader();
    try {
      expect((await reader.readFile('/d/f7')).toString()).toBe('file 7');
    } finally {
      reader.close();
    }
  });

  it('giving a pool back waits for running tasks, refuses queued and later ones', async () => {
    t = createTestRepo();
    const { lease, release } = takePool({
      dataDir: t.repo.store.dataDir,
      workers: 1,
      compressionLevel: 1,
    });
    const results = Array.from({ length: 400 }, (_, i) =>
      lease.store({ buffer: Buffer.from(`content ${i} `.repeat(2000)) }).then(
        () => 'stored',
        (error: Error) => error.message,
      ),
    );
    await new Promise((resolve) => setImmediate(resolve)); // the first batches are sent
    await release();
    // Every task has an outcome once release resolved: nothing is still being written.
    const settled = await Promise.race([
      Promise.all(results),
      new Promise((r) => setTimeout(r, 0, 'pending')),
    ]);
    expect(settled).not.toBe('pending');
    const outcomes = settled as string[];
    expect(outcomes).toContain('stored');
    expect(outcomes.filter((o) => o !== 'stored').every((o) => /drained/.test(o))).toBe(true);
    expect(outcomes.some((o) => /drained/.test(o))).toBe(true);
    await expect(lease.store({ buffer: Buffer.from('late') })).rejects.toThrow(/transaction is over/);
  });

  it('the waiting pool does not keep a process alive', () => {
    const dir = tempDir();
    const script = join(dir, 'one-transaction.mts');
    const src = (p: string) => JSON.stringify(join(import.meta.dirname, '..', 'src', p));
    writeFileSync(
      script,
      [
        `import { Repository, DEFAULT_REPO_SETTINGS } from ${src('repo/repository.ts')};`,
        `import { withTransaction } from ${src('writer/publish.ts')};`,
        `const repo = Repository.create('exit.example.org', { ...DEFAULT_REPO_SETTINGS, storageDir: ${JSON.stringify(join(dir, 'srv'))}, stateDir: ${JSON.stringify(join(dir, 'state'))} });`,
        `await withTransaction(repo, async (tx) => { await tx.addFile('/a', Buffer.from('a')); });`,
        `console.log('published');`,
      ].join('\n'),
    );
    const started = Date.now();
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: join(import.meta.dirname, '..'),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('published');
    expect(run.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('worker pool batching', () => {
  it('contents stored in one turn of the event loop reach the workers in a few messages', async () => {
    t = createTestRepo();
    const { lease, release } = takePool({ dataDir: t.repo.store.dataDir, workers: 2, compressionLevel: 1 });
    const posted = vi.spyOn(Worker.prototype, 'postMessage');
    try {
      const stored = await Promise.all(
        Array.from({ length: 100 }, (_, i) => lease.store({ buffer: Buffer.from(`small file ${i}`) })),
      );
      expect(new Set(stored.map((s) => s.hash)).size).toBe(100);
      // Four idle slots share the 100 contents: four messages, not one per content.
      expect(posted.mock.calls.length).toBeLessThanOrEqual(4);
    } finally {
      posted.mockRestore();
      await release();
    }
  });
});
