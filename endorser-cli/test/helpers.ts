// Test helpers: build the CLI once (a lock keeps parallel test files from racing tsc),
// then drive dist/cli.js as a subprocess on temporary directories with a clean env.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const here = dirname(fileURLToPath(import.meta.url));
export const PACKAGE_DIR = resolve(here, '..');
const ROOT = resolve(PACKAGE_DIR, '..');
export const CLI = join(PACKAGE_DIR, 'dist', 'cli.js');

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Builds policy + endorser-cli with tsc -b (incremental), one process at a time. */
export function ensureBuilt(): void {
  const lock = join(PACKAGE_DIR, '.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than two minutes belongs to a crashed run.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new Error('timed out waiting for the build lock');
      sleep(200);
    }
  }
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-b', 'endorser-cli'], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  json: () => Record<string, unknown>;
}

export interface Sandbox {
  dir: string;
  home: string;
  env: Record<string, string>;
  run(args: string[], options?: { env?: Record<string, string>; input?: string }): Promise<RunResult>;
  cleanup(): void;
}

export function sandbox(prefix = 'tsw-endorse-'): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const home = join(dir, 'home');
  mkdirSync(home);
  const env: Record<string, string> = { HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' };
  return {
    dir,
    home,
    env,
    async run(args, options = {}) {
      const r = await execa('node', [CLI, ...args], {
        cwd: dir,
        env: { ...env, ...options.env },
        extendEnv: false,
        reject: false,
        input: options.input ?? '',
        timeout: 120_000,
      });
      return {
        exitCode: r.exitCode ?? -1,
        stdout: String(r.stdout),
        stderr: String(r.stderr),
        json: () => JSON.parse(String(r.stdout)) as Record<string, unknown>,
      };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The one-line error contract: non-zero exit, exactly one line starting with the program name. */
export function expectOneLineError(r: RunResult, exitCode: number, pattern: RegExp): void {
  const lines = r.stderr.trim().split('\n');
  if (r.exitCode !== exitCode) throw new Error(`exit ${r.exitCode}, expected ${exitCode}: ${r.stderr}`);
  if (lines.length !== 1 || !lines[0]?.startsWith('tsw-endorse: error: '))
    throw new Error(`expected one error line, got: ${r.stderr}`);
  if (!pattern.test(lines[0])) throw new Error(`error ${lines[0]} does not match ${pattern}`);
}
