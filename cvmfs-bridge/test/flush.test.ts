// The filesystem flush behind every publish (store/flush.ts): through the helper shell started
// once, in order, failures reported with the directory, and write-back flushes started while a
// large transaction stores its contents (writer/transaction.ts).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFlush } from '../src/store/flush.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo | undefined;
const dirs: string[] = [];
afterEach(() => {
  t?.cleanup();
  t = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A `sync` first in PATH that logs its arguments, then runs the real one. */
function loggingSync(): { log: string; restore: () => void } {
  const bin = mkdtempSync(join(tmpdir(), 'tsw-logging-sync-'));
  dirs.push(bin);
  const log = join(bin, 'calls.log');
  writeFileSync(join(bin, 'sync'), `#!/bin/sh\necho "$PPID $*" >> ${log}\nexec /bin/sync "$@"\n`);
  chmodSync(join(bin, 'sync'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  return { log, restore: () => (process.env.PATH = path) };
}

const calls = (log: string): string[] => {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

describe('filesystem flush', () => {
  it('flushes through one helper process, several requests in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsw-flush-'));
    dirs.push(dir);
    const { log, restore } = loggingSync();
    try {
      await Promise.all([startFlush(dir), startFlush(dir), startFlush(dir)]);
      await startFlush(dir);
    } finally {
      restore();
    }
    const made = calls(log);
    expect(made).toHaveLength(4);
    // Every `sync` is a child of the same helper, not of this process.
    const parents = new Set(made.map((line) => line.split(' ')[0]));
    expect(parents.size).toBe(1);
    expect(parents.has(String(process.pid))).toBe(false);
    expect(made[0]).toContain(`--file-system -- ${dir}`);
  });

  it('reports a failed flush with its directory, and the next flush works', async () => {
    const missing = join(tmpdir(), `tsw-flush-missing-${process.pid}`);
    await expect(startFlush(missing)).rejects.toThrow(
      new RegExp(`could not flush ${missing} to disk: .*No such file`),
    );
    await expect(startFlush(tmpdir())).resolves.toBeUndefined();
  });

  it('starts write-back flushes while a large transaction stores its contents', async () => {
    t = createTestRepo();
    const { log, restore } = loggingSync();
    try {
      await withTransaction(t.repo, async (tx) => {
        // 40 MiB of incompressible files: two write-back flushes (every 16 MiB) while storing.
        for (let i = 0; i < 10; i++) await tx.addFile(`/f${i}`, randomBytes(4 * 1024 * 1024));
      });
    } finally {
      restore();
    }
    // At least one while storing, then one after the objects and the one before the manifest.
    expect(calls(log).length).toBeGreaterThanOrEqual(3);
  });
});
