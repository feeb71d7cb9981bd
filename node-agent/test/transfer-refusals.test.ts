// What the engine refuses or survives: a seeder sending corrupt pieces (rejected, banned),
// kill -9 in the middle of a download (resumes without refetching verified pieces), and a
// full disk (clear error, staging removed, nothing installed).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { countSetBits, RESUME_FILE, sha256File } from '@trustswarm/fetch';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent, packageDir } from './helpers/build.js';
import {
  type Artifact,
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
const procs: { proc: FetchProcess['proc'] }[] = [];

beforeAll(async () => {
  await buildAgent();
  ({ dir, tracker } = await openSwarm('tsw-refuse-'));
});

afterAll(() => closeSwarm({ dir, tracker }, { procs }));

async function startSeeder(artifact: Artifact, name: string, sets: string[] = []): Promise<FetchProcess> {
  const data = join(dir, name);
  await preinstall(data, 'entry', artifact);
  const seeder = spawnFetch({ artifact, entryId: 'entry', dataDir: data, seed: true, sets });
  procs.push(seeder);
  await seeder.waitFor((e) => e.event === 'seeding');
  return seeder;
}

describe('corrupt pieces', () => {
  it('rejects every piece from a lying seeder, bans it, and completes from an honest one', async () => {
    const artifact = await makeArtifact(join(dir, 'corrupt-origin'), {
      fileName: 'c.img',
      sizeBytes: 4 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    const liar = execa(
      'node',
      [
        join(packageDir, 'test/fixtures/corrupt-seeder.mjs'),
        artifact.torrentPath,
        artifact.path,
        join(dir, 'liar'),
      ],
      {
        reject: false,
        cwd: packageDir,
      },
    );
    procs.push({ proc: liar as FetchProcess['proc'] });
    const liarInfo = await new Promise<{ peerId: string }>((resolve) =>
      liar.stdout?.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as { peerId: string })),
    );

    const leecher = spawnFetch({ artifact, entryId: 'entry', dataDir: join(dir, 'victim') });
    procs.push(leecher);
    const ban = await leecher.waitFor((e) => e.event === 'ban', 60_000);
    expect(ban.peerId).toBe(liarInfo.peerId);

    // Only now does an honest seeder appear; the install must not contain a corrupt byte.
    await startSeeder(artifact, 'honest');
    const installed = await leecher.waitFor((e) => e.event === 'installed', 60_000);
    expect(await sha256File(String(installed.path))).toBe(artifact.sha256);
    expect(leecher.lastStats()?.bannedPeers).toBe(1);
  }, 120_000);
});

describe('resume after kill -9', () => {
  it('continues where it stopped and does not fetch verified pieces again', async () => {
    const artifact = await makeArtifact(join(dir, 'resume-origin'), {
      fileName: 'r.img',
      sizeBytes: 32 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    await startSeeder(artifact, 'resume-seeder');
    const data = join(dir, 'resumer');
    const first = spawnFetch({
      artifact,
      entryId: 'entry',
      dataDir: data,
      sets: ['transfer.downloadLimitBytesPerSecond=6000000'],
    });
    procs.push(first);
    const resumePath = join(data, 'staging', artifact.info.infoHash, RESUME_FILE);
    type ResumeRecord = { bitfieldBase64: string; pieceCount: number };
    const verifiedIn = (r: ResumeRecord) =>
      countSetBits(Buffer.from(r.bitfieldBase64, 'base64'), r.pieceCount);
    const readRecord = (): ResumeRecord | undefined => {
      try {
        return JSON.parse(readFileSync(resumePath, 'utf8')) as ResumeRecord;
      } catch {
        return undefined; // not written yet
      }
    };
    // Kill once the durable record vouches for at least 40% of the pieces.
    await first.waitFor((e) => {
      const r = e.event === 'stats' ? readRecord() : undefined;
      return r !== undefined && verifiedIn(r) > r.pieceCount * 0.4;
    }, 60_000);
    const record = readRecord();
    if (!record) throw new Error('resume record vanished');
    first.proc.kill('SIGKILL');
    await first.proc;
    const verifiedAtKill = verifiedIn(record);
    expect(verifiedAtKill).toBeLessThan(record.pieceCount);
    expect(existsSync(join(data, 'images', 'entry'))).toBe(false);

    const second = spawnFetch({ artifact, entryId: 'entry', dataDir: data });
    procs.push(second);
    const installed = await second.waitFor((e) => e.event === 'installed', 60_000);
    expect(await sha256File(String(installed.path))).toBe(artifact.sha256);
    const pieceBytes = artifact.info.pieceLengthBytes;
    const missingBytes = (record.pieceCount - verifiedAtKill) * pieceBytes;
    // Everything verified before the kill stays; a few pieces in flight may be fetched twice.
    expect(Number(installed.receivedBytes)).toBeLessThanOrEqual(missingBytes + 4 * pieceBytes);
    expect(Number(installed.receivedBytes)).toBeGreaterThan(0);
  }, 120_000);
});

describe('disk full', () => {
  const mountPoint = () => join(dir, 'small-disk');
  afterAll(() => {
    try {
      execFileSync('umount', [mountPoint()]);
    } catch {
      // not mounted
    }
  });

  it('fails with DISK_FULL, removes the staging file and installs nothing', async () => {
    const artifact = await makeArtifact(join(dir, 'big-origin'), {
      fileName: 'big.img',
      sizeBytes: 12 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    await startSeeder(artifact, 'big-seeder');
    await mkdir(mountPoint(), { recursive: true });
    // A real small filesystem (needs root, as the CI runs); fails loudly otherwise.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mountPoint()]);
    const data = join(mountPoint(), 'agent');
    const leecher = spawnFetch({ artifact, entryId: 'entry', dataDir: data });
    procs.push(leecher);
    const result = await leecher.proc;
    expect(result.exitCode).toBe(1);
    expect(String(result.stderr)).toMatch(/DISK_FULL: disk full while downloading/);
    expect(await readdir(join(data, 'staging'))).toEqual([]);
    expect(await readdir(join(data, 'images'))).toEqual([]);
  }, 60_000);
});
