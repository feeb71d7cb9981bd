// A publish must reach the disk before its manifest does: objects and catalogs are flushed
// (syncfs) before .cvmfspublished is renamed into place, so a power cut cannot leave a
// manifest that names data the disk never got. Checked on the real system calls (strace).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const PKG = join(import.meta.dirname, '..');
const CLI = join(PKG, 'dist', 'cli.js');
let base: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  execFileSync(join(PKG, '..', 'node_modules', '.bin', 'tsc'), ['-b', PKG]);
  base = tempDir('tsw-durable-');
  env = {
    ...process.env,
    TSW_BRIDGE_STORAGE_DIR: join(base, 'srv'),
    TSW_BRIDGE_STATE_DIR: join(base, 'state'),
  };
  mkdirSync(join(base, 'src', 'sub'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(join(base, 'src', 'sub', `f${i}`), `file ${i}\n`.repeat(i + 1));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Runs the CLI under strace and returns the traced syncfs/rename calls in order. */
function traced(args: string[]): string[] {
  const log = join(base, `strace.${Date.now()}.log`);
  const r = spawnSync(
    'strace',
    ['-f', '-qq', '-e', 'trace=syncfs,rename,renameat,renameat2', '-o', log, process.execPath, CLI, ...args],
    { env, encoding: 'utf8' },
  );
  if (r.error) throw new Error(`strace could not run (Debian package strace): ${r.error.message}`);
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => /syncfs\(|rename/.test(line) && !line.includes('resumed>'));
}

describe('publish durability', () => {
  it('flushes the filesystem after the last object and catalog and before the manifest rename', () => {
    expect(spawnSync(process.execPath, [CLI, 'repo', 'create', 'durable.example.org'], { env }).status).toBe(
      0,
    );
    const calls = traced(['repo', 'publish', 'durable.example.org', join(base, 'src'), '--path', '/apps']);
    const manifestRename = calls.findIndex((c) => /rename.*\.cvmfspublished"/.test(c));
    const lastDataRename = calls.findLastIndex((c) => /rename.*\/data\/[0-9a-f]{2}\//.test(c));
    const flush = calls.findLastIndex((c, i) => i < manifestRename && /syncfs\(\d+\)\s+= 0/.test(c));
    expect(manifestRename, calls.join('\n')).toBeGreaterThan(0);
    expect(lastDataRename, 'objects are renamed into data/XX/').toBeGreaterThanOrEqual(0);
    expect(flush, calls.join('\n')).toBeGreaterThan(lastDataRename);
    expect(flush).toBeLessThan(manifestRename);
  });
});
