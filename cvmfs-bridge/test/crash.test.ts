import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../src/errors.js';
import { verifyRevision } from '../src/reader/verify-all.js';
import { PUBLISH_STEPS, withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo | undefined;
afterEach(() => t?.cleanup());

async function snapshot(t: TestRepo): Promise<{ revision: number; a: string; files: number }> {
  const reader = await t.reader();
  try {
    const report = await verifyRevision(reader);
    return { revision: reader.revision, a: (await reader.readFile('/a')).toString(), files: report.files };
  } finally {
    reader.close();
  }
}

describe('crash safety of publish', () => {
  it.each(PUBLISH_STEPS)(
    'a crash at %s leaves the previous revision intact and the next publish works',
    async (step) => {
      t = createTestRepo();
      await withTransaction(t.repo, async (tx) => {
        await tx.addFile('/a', Buffer.from('one'));
        await tx.addFile('/n/.cvmfscatalog', Buffer.alloc(0));
      });
      const before = await snapshot(t);
      await expect(
        withTransaction(
          t.repo,
          async (tx) => {
            await tx.addFile('/a', Buffer.from('two'));
            await tx.addFile('/n/new', Buffer.from('new'));
          },
          {
            tag: { name: 'crashing' },
            onStep: (s) => {
              if (s === step) throw new Error(`injected crash at ${s}`);
            },
          },
        ),
      ).rejects.toThrow(/injected crash/);
      expect(await snapshot(t)).toEqual(before);

      const next = await withTransaction(t.repo, async (tx) => {
        await tx.addFile('/a', Buffer.from('three'));
      });
      expect(next.revision).toBe(before.revision + 1);
      expect(await snapshot(t)).toMatchObject({ revision: before.revision + 1, a: 'three' });
    },
  );

  it('recovers from a writer that died holding the lock with temp files left behind', async () => {
    t = createTestRepo();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(t.repo.layout.lockFile, dead.stdout.toString());
    writeFileSync(`${t.repo.store.txnDir}/obj.leftover`, 'half written');
    const result = await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/a', Buffer.from('after crash'));
    });
    expect(result.revision).toBe(2);
    expect(readdirSync(t.repo.store.txnDir)).toEqual([]);
    expect((await snapshot(t)).a).toBe('after crash');
  });

  it('refuses a second writer while the lock holder is alive', async () => {
    t = createTestRepo();
    const repo = t.repo;
    let inner: unknown;
    await withTransaction(repo, async () => {
      inner = await withTransaction(repo, async () => {}).catch((e: unknown) => e);
    });
    expect(isBridgeError(inner, 'REPO_LOCKED')).toBe(true);
  });

  it('aborts on an error inside the transaction without publishing anything', async () => {
    t = createTestRepo();
    await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/a', Buffer.from('one'));
    });
    await expect(
      withTransaction(t.repo, async (tx) => {
        await tx.addFile('/a', Buffer.from('two'));
        throw new Error('caller failed');
      }),
    ).rejects.toThrow(/caller failed/);
    expect(await snapshot(t)).toMatchObject({ revision: 2, a: 'one' });
  });

  it('publishes nothing when the flush to disk fails', async () => {
    t = createTestRepo();
    await withTransaction(t.repo, async (tx) => {
      await tx.addFile('/a', Buffer.from('one'));
    });
    const before = await snapshot(t);
    // A `sync` that fails as a disk error would: the manifest must not be renamed after it.
    const bin = mkdtempSync(join(tmpdir(), 'tsw-failing-sync-'));
    writeFileSync(
      join(bin, 'sync'),
      '#!/bin/sh\necho "sync: error syncing $2: Input/output error" >&2\nexit 1\n',
    );
    chmodSync(join(bin, 'sync'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      await expect(
        withTransaction(t.repo, async (tx) => {
          await tx.addFile('/a', Buffer.from('two'));
        }),
      ).rejects.toThrow(/could not flush .*Input\/output error/);
    } finally {
      process.env.PATH = path;
      rmSync(bin, { recursive: true, force: true });
    }
    expect(await snapshot(t)).toEqual(before);
  });
});
