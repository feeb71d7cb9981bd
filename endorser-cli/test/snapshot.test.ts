// add repo-snapshot: the same tree gives the same tar bytes whatever its owners and times;
// --preserve keeps them; GNU tar reads the result; bad input leaves no tar behind.

import { execFileSync } from 'node:child_process';
import {
  chownSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseCatalog } from '@trustswarm/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, expectOneLineError, type Sandbox, sandbox } from './helpers.js';

let box: Sandbox;

function makeTree(root: string, when: Date, uid: number): void {
  mkdirSync(join(root, 'lib', 'python'), { recursive: true });
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(join(root, 'README'), 'snapshot\n');
  writeFileSync(join(root, 'lib', 'python', 'mod.py'), 'print(1)\n');
  writeFileSync(join(root, 'bin', 'tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  writeFileSync(join(root, 'lib', `${'long-name-'.repeat(12)}.txt`), 'long\n');
  symlinkSync('../README', join(root, 'lib', 'readme-link'));
  for (const p of ['README', 'lib/python/mod.py', 'bin/tool', 'lib', 'bin', 'lib/python', '.']) {
    utimesSync(join(root, p), when, when);
    chownSync(join(root, p), uid, uid);
  }
}

const sha = async (args: string[]) => {
  const r = await box.run(['--json', 'add', 'repo-snapshot', ...args]);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return r.json() as { entry: { artifact: { sha256: string } }; tar: string };
};

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  expect((await box.run(['catalog', 'new', 'snapshots'])).exitCode).toBe(0);
  makeTree(join(box.dir, 'tree-a'), new Date('2020-01-01T00:00:00Z'), 0);
  makeTree(join(box.dir, 'tree-b'), new Date('2024-06-01T12:00:00Z'), 1234);
});
afterAll(() => box.cleanup());

describe('add repo-snapshot', () => {
  it('gives identical tars for trees differing only in owners and times', async () => {
    const a = await sha([
      'tree-a',
      '--repository',
      'sw.example.org',
      '--path',
      '/cms/a',
      '--entry-version',
      '1',
    ]);
    expect(a.entry.artifact.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The same content again is a duplicate artifact: refused, and its tar removed.
    const b = await box.run([
      'add',
      'repo-snapshot',
      'tree-b',
      '--repository',
      'sw.example.org',
      '--path',
      '/cms/b',
      '--entry-version',
      '2',
    ]);
    expectOneLineError(b, 1, new RegExp(`sha256 ${a.entry.artifact.sha256} is already in the catalog`));
    expect(readdirSync(join(box.dir, 'artifacts'))).toEqual(['tree-a-1.tar']);

    const listing = execFileSync('tar', ['-tvf', a.tar, '--numeric-owner'], { encoding: 'utf8' });
    const names = listing
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).slice(5).join(' '));
    expect(names.slice(0, 4)).toEqual(['README', 'bin/', 'bin/tool', 'lib/']);
    expect(listing).toMatch(/-rwxr-xr-x 0\/0 .* 1970-01-01 00:00 bin\/tool/);
    expect(listing).toContain('lib/readme-link -> ../README');
    const out = join(box.dir, 'extracted');
    mkdirSync(out);
    execFileSync('tar', ['-xf', a.tar, '-C', out]);
    expect(readFileSync(join(out, 'lib', `${'long-name-'.repeat(12)}.txt`), 'utf8')).toBe('long\n');
    expect(readFileSync(join(out, 'lib', 'python', 'mod.py'), 'utf8')).toBe('print(1)\n');
  });

  it('--preserve keeps owners and times, so the bytes differ', async () => {
    const p = await sha([
      'tree-b',
      '--preserve',
      '--repository',
      'sw.example.org',
      '--path',
      '/cms/p',
      '--entry-version',
      '3',
    ]);
    const listing = execFileSync('tar', ['-tvf', p.tar, '--numeric-owner'], { encoding: 'utf8' });
    expect(listing).toMatch(/1234\/1234 .* 2024-06-01/);
  });

  it('accepts a tar archive as it is and records it', async () => {
    const tarPath = join(box.dir, 'given.tar');
    execFileSync('tar', ['-cf', tarPath, '-C', box.dir, 'tree-a/README']);
    const r = await sha([
      'given.tar',
      '--repository',
      'sw.example.org',
      '--path',
      '/cms/t',
      '--entry-version',
      '4',
    ]);
    expect(r.tar).toBe(tarPath);
    const c = parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));
    expect(c.entries.find((e) => e.version === '4')?.cvmfs).toEqual({
      repository: 'sw.example.org',
      path: '/cms/t',
    });
  });

  it('refuses a file that is not a tar, bad CVMFS fields, missing options, special files', async () => {
    writeFileSync(join(box.dir, 'notatar.bin'), 'plain text');
    expectOneLineError(
      await box.run([
        'add',
        'repo-snapshot',
        'notatar.bin',
        '--repository',
        'sw.example.org',
        '--path',
        '/x',
      ]),
      2,
      /neither a directory nor a tar/,
    );
    expectOneLineError(
      await box.run(['add', 'repo-snapshot', 'tree-a', '--repository', 'nodots', '--path', '/x']),
      1,
      /cvmfs\.repository: expected a fully qualified name/,
    );
    expectOneLineError(await box.run(['add', 'repo-snapshot', 'tree-a', '--path', '/x']), 2, /--repository/);
    const special = join(box.dir, 'tree-fifo');
    mkdirSync(special);
    execFileSync('mkfifo', [join(special, 'pipe')]);
    const before = readdirSync(join(box.dir, 'artifacts'));
    expectOneLineError(
      await box.run([
        'add',
        'repo-snapshot',
        'tree-fifo',
        '--repository',
        'sw.example.org',
        '--path',
        '/f',
        '--entry-version',
        '9',
      ]),
      1,
      /unsupported file type/,
    );
    expect(readdirSync(join(box.dir, 'artifacts'))).toEqual(before);
    expectOneLineError(
      await box.run([
        'add',
        'repo-snapshot',
        'tree-fifo/pipe',
        '--repository',
        'sw.example.org',
        '--path',
        '/f',
      ]),
      1,
      /not a directory or regular file/,
    );
  });
});
