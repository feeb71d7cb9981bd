// The installed tsw-agent is dist/cli.js bundled by scripts/bundle.mjs. The bundle downloads,
// verifies and installs like dist/cli.js, and on fetch's block-to-file receive path: esbuild
// reprints webtorrent's code, so without the bundler's fingerprint of the file it bundled the
// engine would keep webtorrent's own path and warn "unknown webtorrent version". It prints
// nothing on stderr (webtorrent warns with a stack trace when utp-native is not found).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File, type TransferEngine } from '@trustswarm/fetch';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, bundlePath } from './helpers/build.js';
import {
  closeSwarm,
  type FetchProcess,
  makeArtifact,
  openSwarm,
  spawnFetch,
  startSeedingEngine,
  type Tracker,
} from './helpers/swarm.js';

let dir: string;
let tracker: Tracker;
let seeder: TransferEngine | undefined;
const procs: FetchProcess[] = [];

beforeAll(async () => {
  ({ dir, tracker } = await openSwarm('tsw-bundle-'));
  await buildBundle();
}, 180_000);

afterAll(() => closeSwarm({ dir, tracker }, { procs, engines: [seeder] }));

describe('the bundled tsw-agent', () => {
  it('fetches, verifies and installs on the block-to-file receive path', async () => {
    const artifact = await makeArtifact(join(dir, 'origin'), {
      fileName: 'image.img',
      sizeBytes: 3 * 1024 * 1024 + 777,
      announce: [tracker.announceUrl],
    });
    seeder = await startSeedingEngine(artifact);
    const agent = spawnFetch({ artifact, entryId: 'bundled', dataDir: join(dir, 'agent'), cli: bundlePath });
    procs.push(agent);
    const installed = await agent.waitFor((e) => e.event === 'installed');
    expect(await sha256File(String(installed.path))).toBe(artifact.sha256);
    const warnings = agent.events.filter((e) => e.event === 'warning').map((e) => String(e.message));
    expect(warnings.filter((m) => m.includes('unknown webtorrent version'))).toEqual([]);
    // and quietly: native add-ons missing from the bundle's reach print nothing (uTP is off)
    const exited = await agent.proc;
    expect(exited.exitCode).toBe(0);
    expect(String(exited.stderr)).toBe('');
  }, 120_000);

  it('starts from its #! line, whose node flags node accepts', async () => {
    // The memory and GC flags live only in this line (README, "Heap growing factor"); a flag
    // node does not know makes it exit 9 ("bad option") before the agent runs.
    const firstLine = (await readFile(bundlePath, 'utf8')).split('\n', 1)[0];
    expect(firstLine).toMatch(/^#!\/usr\/bin\/env -S node .*--max-semi-space-size=2/);
    expect(firstLine).toContain('--heap-growing-percent=200');
    const help = await execa(bundlePath, ['--help'], { reject: false });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Usage: tsw-agent');
  }, 60_000);
});
