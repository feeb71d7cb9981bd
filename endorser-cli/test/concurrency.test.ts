// Two endorser commands on one workspace never lose each other's change: the workspace lock
// serialises the catalog's read-modify-write, and a lock left by a dead process is taken over.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog } from '@trustswarm/policy';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, PACKAGE_DIR, type Sandbox, sandbox } from './helpers.js';

let box: Sandbox;

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  expect((await box.run(['catalog', 'new', 'busy'])).exitCode).toBe(0);
});
afterAll(() => box.cleanup());

describe('workspace lock', () => {
  it('keeps every entry when four adds run at once', async () => {
    const names = ['p1', 'p2', 'p3', 'p4'];
    for (const n of names) writeFileSync(join(box.dir, `${n}.img`), `content of ${n}`);
    const results = await Promise.all(names.map((n) => box.run(['add', 'image', `${n}.img`])));
    expect(results.map((r) => r.exitCode)).toEqual([0, 0, 0, 0]);
    const c = parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));
    expect(c.entries.map((e) => e.name).sort()).toEqual(names);
    expect(c.version).toBe(5);
    const sources = JSON.parse(readFileSync(join(box.dir, 'sources.json'), 'utf8')) as { artifacts: object };
    expect(Object.keys(sources.artifacts)).toHaveLength(4);
  });

  it('takes over a lock whose process is gone', async () => {
    writeFileSync(join(box.dir, '.tsw-endorse.lock'), '999999999');
    const r = await box.run(['catalog', 'set-expiry', '+3d']);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it("loses no update when eight processes take a left lock and then each other's, 200 times each", async () => {
    const lock = join(box.dir, 'stress.lock');
    const counter = join(box.dir, 'counter');
    writeFileSync(counter, '0');
    writeFileSync(lock, '999999999'); // left by a dead process: all eight race to take it over
    // Each worker increments the counter under the lock; any overlap of two holders loses an
    // increment. Taken and released this often, a waiter regularly finds the lock gone between
    // its failed create and its read of the owner (which once failed an `add`: ENOENT).
    const worker = `
      import { readFileSync, writeFileSync } from 'node:fs';
      import { acquireFileLock } from ${JSON.stringify(join(PACKAGE_DIR, 'dist', 'lib', 'file-lock.js'))};
      const [lock, counter] = process.argv.slice(1);
      for (let i = 0; i < 200; i++) {
        const release = acquireFileLock(lock, 30000, (pid) => 'busy ' + pid);
        const n = Number(readFileSync(counter, 'utf8'));
        writeFileSync(counter, String(n + 1));
        release();
      }`;
    const runs = await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map(() =>
        execa('node', ['--input-type=module', '-e', worker, lock, counter], { reject: false }),
      ),
    );
    expect(runs.map((r) => [r.exitCode, r.stderr])).toEqual(runs.map(() => [0, '']));
    expect(Number(readFileSync(counter, 'utf8'))).toBe(1600);
  });
});
