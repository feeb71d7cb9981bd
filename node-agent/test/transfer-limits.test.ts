// The per-torrent caps hold under pressure (12 peers want one seeding agent: never more
// than 10 connections, incoming included, never more than 5 unchoked), the upload limit
// throttles, and the origin web seed is used only when no peer offers a piece.

import { join } from 'node:path';
import { sha256File } from '@trustswarm/fetch';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent, packageDir } from './helpers/build.js';
import { type StaticServer, startStaticServer } from './helpers/static-server.js';
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
let origin: StaticServer;
const procs: { proc: FetchProcess['proc'] }[] = [];

beforeAll(async () => {
  await buildAgent();
  ({ dir, tracker } = await openSwarm('tsw-limits-'));
  origin = await startStaticServer(join(dir, 'layout'));
});

afterAll(async () => {
  await origin?.close();
  await closeSwarm({ dir, tracker }, { procs });
});

type Stats = {
  conns: number;
  unchoked: number;
  peakConns: number;
  peakUnchoked: number;
  refusedConns: number;
  uploadedBytes: number;
};

describe('peer caps', () => {
  it('a seeding agent facing 12 leechers keeps ≤ 10 connections and ≤ 5 unchoked, and throttles upload', async () => {
    const artifact = await makeArtifact(join(dir, 'caps'), {
      fileName: 'caps.img',
      sizeBytes: 32 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    await preinstall(join(dir, 'seeder'), 'entry', artifact);
    const uploadLimit = 2_000_000;
    const seeder = spawnFetch({
      artifact,
      entryId: 'entry',
      dataDir: join(dir, 'seeder'),
      seed: true,
      sets: [`transfer.uploadLimitBytesPerSecond=${uploadLimit}`],
    });
    procs.push(seeder);
    await seeder.waitFor((e) => e.event === 'seeding');
    const leechers = execa(
      'node',
      [join(packageDir, 'test/fixtures/leechers.mjs'), artifact.torrentPath, join(dir, 'leechers'), '12'],
      {
        reject: false,
        cwd: packageDir,
      },
    );
    procs.push({ proc: leechers as FetchProcess['proc'] });

    // Watch the seeder for 8 s of sustained pressure, sampling its live counts.
    const samples: Stats[] = [];
    const started = Date.now();
    await seeder.waitFor((e) => {
      const t = (e as { transfers?: Stats[] }).transfers?.[0];
      if (e.event === 'stats' && t) samples.push(t);
      return Date.now() - started > 8000 && samples.some((s) => s.refusedConns > 0);
    }, 30_000);
    const last = samples.at(-1);
    if (!last) throw new Error('no stats from the seeder');
    expect(Math.max(...samples.map((s) => s.conns))).toBeLessThanOrEqual(10);
    expect(Math.max(...samples.map((s) => s.unchoked))).toBeLessThanOrEqual(5);
    expect(last.peakConns).toBeLessThanOrEqual(10);
    expect(last.peakUnchoked).toBeLessThanOrEqual(5);
    // The caps were reached, not merely unchallenged.
    expect(last.peakConns).toBe(10);
    expect(last.peakUnchoked).toBe(5);
    expect(last.refusedConns).toBeGreaterThan(0);
    // Upload limit: over the window, no more than the limit plus a 1 s burst.
    const elapsedSeconds = (Date.now() - started) / 1000;
    expect(last.uploadedBytes).toBeLessThanOrEqual(uploadLimit * (elapsedSeconds + 1));
    expect(last.uploadedBytes).toBeGreaterThan(0);
  }, 60_000);
});

describe('web seed', () => {
  it('is used when no peer offers a piece, and the download completes from it', async () => {
    const artifactTmp = await makeArtifact(join(dir, 'layout', 'artifacts-src'), {
      fileName: 'ws.img',
      sizeBytes: 4 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    // Re-make the torrent with the web seed URL now that the sha256 is known.
    const { copyFile, mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'layout', 'artifacts'), { recursive: true });
    await copyFile(artifactTmp.path, join(dir, 'layout', 'artifacts', artifactTmp.sha256));
    const url = `${origin.baseUrl}artifacts/${artifactTmp.sha256}`;
    const artifact = await makeArtifact(join(dir, 'ws'), {
      fileName: 'ws.img',
      sizeBytes: 0,
      announce: [tracker.announceUrl],
      urlList: [url],
      copyFrom: artifactTmp.path,
    });
    const leecher = spawnFetch({
      artifact,
      entryId: 'entry',
      dataDir: join(dir, 'ws-agent'),
      sets: ['transfer.webSeed.noPeerGraceSeconds=1', 'transfer.webSeed.delaySeconds=600'],
    });
    procs.push(leecher);
    const used = await leecher.waitFor((e) => e.event === 'webseed', 30_000);
    expect(used.reason).toBe('no-peer-has-piece');
    const installed = await leecher.waitFor((e) => e.event === 'installed', 30_000);
    expect(await sha256File(String(installed.path))).toBe(artifact.sha256);
    expect(origin.requests.some((r) => r.path === `/artifacts/${artifact.sha256}` && r.status === 206)).toBe(
      true,
    );
  }, 60_000);

  it('is not touched while peers offer every piece', async () => {
    const src = await makeArtifact(join(dir, 'ws2-src'), {
      fileName: 'ws2.img',
      sizeBytes: 8 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    const url = `${origin.baseUrl}artifacts/${src.sha256}`;
    const artifact = await makeArtifact(join(dir, 'ws2'), {
      fileName: 'ws2.img',
      sizeBytes: 0,
      announce: [tracker.announceUrl],
      urlList: [url],
      copyFrom: src.path,
    });
    await preinstall(join(dir, 'ws2-seeder'), 'entry', artifact);
    const seeder = spawnFetch({ artifact, entryId: 'entry', dataDir: join(dir, 'ws2-seeder'), seed: true });
    procs.push(seeder);
    await seeder.waitFor((e) => e.event === 'seeding');
    const leecher = spawnFetch({
      artifact,
      entryId: 'entry',
      dataDir: join(dir, 'ws2-agent'),
      sets: ['transfer.webSeed.noPeerGraceSeconds=20', 'transfer.webSeed.delaySeconds=600'],
    });
    procs.push(leecher);
    const installed = await leecher.waitFor((e) => e.event === 'installed', 30_000);
    expect(await sha256File(String(installed.path))).toBe(artifact.sha256);
    expect(leecher.events.some((e) => e.event === 'webseed')).toBe(false);
    expect(origin.requests.filter((r) => r.path === `/artifacts/${artifact.sha256}`)).toEqual([]);
  }, 60_000);
});
