// Interop with an independent BitTorrent implementation (aria2c, Debian package aria2):
// aria2c downloads from our seeding agent, and our agent downloads from an aria2c seeder.

import { join } from 'node:path';
import { sha256File } from '@trustswarm/fetch';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aria2Args, freePort } from '../bench/harness.js';
import { buildAgent } from './helpers/build.js';
import {
  type Artifact,
  closeSwarm,
  type FetchProcess,
  makeArtifact,
  openSwarm,
  preinstall,
  spawnFetch,
  stopAll,
  type Tracker,
} from './helpers/swarm.js';

let dir: string;
let tracker: Tracker;
let artifact: Artifact;
const procs: { proc: ResultPromise }[] = [];

beforeAll(async () => {
  await buildAgent();
  ({ dir, tracker } = await openSwarm('tsw-interop-'));
  artifact = await makeArtifact(join(dir, 'origin'), {
    fileName: 'interop.img',
    sizeBytes: 8 * 1024 * 1024,
    announce: [tracker.announceUrl],
  });
});

afterAll(() => closeSwarm({ dir, tracker }, { procs }));

describe('aria2c interop', () => {
  it('an aria2c leecher downloads the artifact from a seeding agent', async () => {
    await preinstall(join(dir, 'seeder'), 'entry', artifact);
    const seeder: FetchProcess = spawnFetch({
      artifact,
      entryId: 'entry',
      dataDir: join(dir, 'seeder'),
      seed: true,
    });
    procs.push(seeder);
    await seeder.waitFor((e) => e.event === 'seeding');
    const result = await execa(
      'aria2c',
      [
        ...aria2Args(await freePort()),
        `--dir=${join(dir, 'aria2-leecher')}`,
        '--seed-time=0',
        artifact.torrentPath,
      ],
      { timeout: 60_000 },
    );
    expect(result.exitCode).toBe(0);
    expect(await sha256File(join(dir, 'aria2-leecher', artifact.fileName))).toBe(artifact.sha256);
    await stopAll([seeder]);
    const uploaded = Number(seeder.lastStats()?.transfers[0]?.uploadedBytes ?? 0);
    expect(uploaded).toBeGreaterThanOrEqual(artifact.info.sizeBytes);
  }, 90_000);

  it('an agent downloads the artifact from an aria2c seeder', async () => {
    // aria2c checks the file (-V) and then seeds it forever (--seed-ratio=0.0).
    const aria2 = execa(
      'aria2c',
      [
        ...aria2Args(await freePort()),
        `--dir=${join(dir, 'origin')}`,
        '-V',
        '--seed-ratio=0.0',
        artifact.torrentPath,
      ],
      { reject: false },
    );
    procs.push({ proc: aria2 as ResultPromise });
    const leecher = spawnFetch({ artifact, entryId: 'entry', dataDir: join(dir, 'agent-from-aria2') });
    procs.push(leecher);
    const installed = await leecher.waitFor((e) => e.event === 'installed', 60_000);
    expect(await sha256File(String(installed.path))).toBe(artifact.sha256);
    expect(Number(installed.receivedBytes)).toBeGreaterThanOrEqual(artifact.info.sizeBytes);
  }, 90_000);
});
