// Real swarms on loopback: separate agent processes (`tsw-agent fetch`) exchange pieces
// through a real tracker; every agent installs the artifact with the right sha256.

import { join } from 'node:path';
import { sha256File } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from './helpers/build.js';
import {
  closeSwarm,
  type FetchProcess,
  makeArtifact,
  openSwarm,
  preinstall,
  spawnFetch,
  type Tracker,
} from './helpers/swarm.js';

let dir: string;
let tracker: Tracker;
const procs: FetchProcess[] = [];

beforeAll(async () => {
  await buildAgent();
  ({ dir, tracker } = await openSwarm('tsw-swarm-'));
});

afterAll(() => closeSwarm({ dir, tracker }, { procs }));

describe('swarm of agent processes', () => {
  it('five agents install the image from one seeding agent and each other, hashes matching', async () => {
    const artifact = await makeArtifact(join(dir, 'origin'), {
      fileName: 'image.qcow2',
      sizeBytes: 16 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    const seederData = join(dir, 'seeder');
    await preinstall(seederData, 'entry-1', artifact);
    const seeder = spawnFetch({ artifact, entryId: 'entry-1', dataDir: seederData, seed: true });
    procs.push(seeder);
    await seeder.waitFor((e) => e.event === 'seeding');

    const leechers = Array.from({ length: 5 }, (_, i) =>
      spawnFetch({ artifact, entryId: 'entry-1', dataDir: join(dir, `agent-${i}`), seed: true }),
    );
    procs.push(...leechers);
    const installed = await Promise.all(
      leechers.map((p) => p.waitFor((e) => e.event === 'installed', 120_000)),
    );
    for (const e of installed) {
      expect(await sha256File(String(e.path))).toBe(artifact.sha256);
    }
    // The seeder never held more than its caps, whatever the leechers did.
    const seederStats = seeder.lastStats()?.transfers[0];
    expect(seederStats?.peakConns).toBeLessThanOrEqual(10);
    expect(seederStats?.peakUnchoked).toBeLessThanOrEqual(5);
    // Leechers exchanged pieces among themselves: together they received more than the seeder sent.
    const uploadedBySeeder = Number(seederStats?.uploadedBytes ?? 0);
    expect(uploadedBySeeder).toBeGreaterThan(0);
    expect(uploadedBySeeder).toBeLessThan(5 * artifact.info.sizeBytes);
  }, 180_000);
});
