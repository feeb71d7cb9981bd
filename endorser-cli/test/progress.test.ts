// The progress bar appears only for a person at a terminal: under a pseudo-terminal
// (util-linux `script`) `add image` draws MB/s and ETA; with --json, or without a
// terminal, stderr stays clean.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt, type Sandbox, sandbox } from './helpers.js';

let box: Sandbox;

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  expect((await box.run(['catalog', 'new', 'tty'])).exitCode).toBe(0);
  writeFileSync(join(box.dir, 'tty.img'), Buffer.alloc(12 * 1024 * 1024, 1));
  writeFileSync(join(box.dir, 'json.img'), Buffer.alloc(12 * 1024 * 1024, 2));
});
afterAll(() => box.cleanup());

const underTerminal = (args: string) =>
  execa('script', ['-qec', `node ${CLI} ${args}`, '/dev/null'], {
    cwd: box.dir,
    env: box.env,
    extendEnv: false,
    reject: false,
  });

describe('progress bar', () => {
  it('shows MB/s and ETA on a terminal', async () => {
    const r = await underTerminal('add image tty.img');
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toMatch(/hashing tty\.img .*\d+% \| \d+\/13 MB \| [\d.]+ MB\/s \| ETA/);
  });

  it('stays quiet with --json even on a terminal', async () => {
    const r = await underTerminal('--json add image json.img');
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).not.toMatch(/MB\/s/);
    expect(String(r.stdout)).toMatch(/"catalogVersion": 3/);
  });
});
