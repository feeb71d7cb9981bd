// What only a person at a terminal sees, tested under a pseudo-terminal (util-linux
// `script`): the progress bar with MB/s and ETA (not with --json, not without a terminal),
// and the hidden passphrase prompt.

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

/** Runs under a pseudo-terminal and types `answer` once the passphrase prompt shows. */
async function answerPrompt(args: string, answer: string): Promise<{ exitCode: number; output: string }> {
  const child = execa('script', ['-qec', `node ${CLI} ${args}`, '/dev/null'], {
    cwd: box.dir,
    env: box.env,
    extendEnv: false,
    reject: false,
    stdin: 'pipe',
  });
  let output = '';
  let answered = false;
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
    if (!answered && output.includes('Passphrase for')) {
      answered = true;
      child.stdin?.write(`${answer}\n`);
    }
  });
  const r = await child;
  return { exitCode: r.exitCode ?? -1, output };
}

describe('passphrase prompt', () => {
  it('asks on a terminal, without echo, and signs with the typed passphrase', async () => {
    const init = await box.run(['init', '--dev-ca', 'devca', '--cn', 'Tess Terminal'], {
      env: { TSW_ENDORSE_PASSPHRASE: 'typed-secret' },
    });
    expect(init.exitCode).toBe(0);
    const r = await answerPrompt('sign', 'typed-secret');
    expect(r.output).toMatch(/Passphrase for ~\/\.globus\/userkey\.pem:/);
    expect(r.output).not.toContain('typed-secret');
    expect(r.output).toMatch(/signed tty version \d+ as .*Tess Terminal/);
    expect(r.exitCode).toBe(0);
  });

  it('refuses a wrong typed passphrase with exit 4', async () => {
    const r = await answerPrompt('sign', 'not-the-secret');
    expect(r.output).toMatch(/wrong passphrase/);
    expect(r.exitCode).toBe(4);
  });
});
