// Two endorser commands on one workspace never lose each other's change: the workspace lock
// serialises the catalog's read-modify-write, and a lock left by a dead process is taken over.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog } from '@trustswarm/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, type Sandbox, sandbox } from './helpers.js';

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
});
