// diff: entries added, removed and changed field by field between versions of the history,
// or between files; a missing version is one clear error.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, expectOneLineError, type Sandbox, sandbox } from './helpers.js';

let box: Sandbox;

interface DiffData {
  header: Array<{ field: string; from: unknown; to: unknown }>;
  added: Array<{ name: string }>;
  removed: Array<{ name: string }>;
  changed: Array<{ name: string; fields: Array<{ field: string }> }>;
}

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  writeFileSync(join(box.dir, 'one.img'), 'one');
  writeFileSync(join(box.dir, 'two.img'), 'two');
  for (const args of [
    ['catalog', 'new', 'diffed'], // v1
    ['add', 'image', 'one.img', '--entry-version', '1'], // v2
    ['add', 'image', 'two.img', '--entry-version', '1'], // v3
    ['catalog', 'remove', 'one'], // v4
    ['catalog', 'set-expiry', '+5d'], // v5
  ]) {
    const r = await box.run(args);
    expect(r.exitCode, r.stderr).toBe(0);
  }
});
afterAll(() => box.cleanup());

describe('diff', () => {
  it('lists added and removed entries between history versions', async () => {
    const r = await box.run(['--json', 'diff', '2', '4']);
    expect(r.exitCode, r.stderr).toBe(0);
    const d = r.json() as unknown as DiffData;
    expect(d.added.map((e) => e.name)).toEqual(['two']);
    expect(d.removed.map((e) => e.name)).toEqual(['one']);
    // issued may or may not differ (same second); version always does, expires did not change.
    expect(d.header.find((h) => h.field === 'version')).toEqual({ field: 'version', from: 2, to: 4 });
    expect(d.header.map((h) => h.field)).not.toContain('expires');
  });

  it('shows changed fields of an entry and of the header, as text too', async () => {
    const current = join(box.dir, 'catalog.yaml');
    const edited = join(box.dir, 'edited.yaml');
    writeFileSync(edited, readFileSync(current, 'utf8').replace(/version: '1'/, "version: '2'"));
    const r = await box.run(['--json', 'diff', '5', 'edited.yaml']);
    const d = r.json() as unknown as DiffData;
    expect(d.changed).toEqual([
      { id: expect.any(String), name: 'two', fields: [{ field: 'version', from: '1', to: '2' }] },
    ]);
    const text = await box.run(['diff', '4', '5']);
    expect(text.stdout).toMatch(/~ expires: ".*" → ".*"/);
  });

  it('refuses a version that does not exist', async () => {
    expectOneLineError(await box.run(['diff', '1', '42']), 1, /no version 42/);
  });
});
