// Builds node-agent once per test run (several test files spawn dist/cli.js); a lock
// directory keeps parallel test files from running tsc -b on the same tree at once. The
// bundle (the installed tsw-agent) is built only by the test that runs it.

import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = join(packageDir, 'dist', 'cli.js');
/** The installed `tsw-agent` (package.json bin): dist/cli.js bundled by scripts/bundle.mjs. */
export const bundlePath = join(packageDir, 'dist', 'tsw-agent.mjs');

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

export async function buildAgent(): Promise<void> {
  const lock = join(packageDir, 'dist.build-lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than 2 minutes is left over from a killed run.
      const ageMs = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (ageMs > 120_000) rmSync(lock, { recursive: true, force: true });
      await sleep(200);
    }
  }
  try {
    // tsc from node_modules/.bin: pnpm itself may not be on PATH inside vitest.
    await execa('tsc', ['-b'], { cwd: packageDir, preferLocal: true });
    if (!existsSync(cliPath)) throw new Error(`build did not produce ${cliPath}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** buildAgent, then the bundle of dist/cli.js (the package's build script does both). */
export async function buildBundle(): Promise<void> {
  await buildAgent();
  await execa('node', [join(packageDir, 'scripts', 'bundle.mjs')], { cwd: packageDir });
  if (!existsSync(bundlePath)) throw new Error(`bundle did not produce ${bundlePath}`);
}
