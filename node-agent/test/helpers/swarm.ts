// Loopback swarm fixtures: a bittorrent-tracker HTTP server, random artifacts with their
// .torrent, and agent processes (`tsw-agent fetch`) whose JSON event lines tests read.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  defaultTransferConfig,
  readTorrentInfo,
  type SuperSeedOptions,
  sha256File,
  type TorrentInfo,
  type TransferConfig,
  TransferEngine,
} from '@trustswarm/fetch';
import { Server } from 'bittorrent-tracker';
import createTorrent from 'create-torrent';
import { execa, type ResultPromise } from 'execa';
import { cliPath } from './build.js';

export interface Tracker {
  announceUrl: string;
  close(): Promise<void>;
}

export async function startTracker(): Promise<Tracker> {
  const server = new Server({ http: true, udp: false, ws: false, stats: false, interval: 2000 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.http?.address();
  if (!address || typeof address === 'string') throw new Error('tracker did not bind');
  return {
    announceUrl: `http://127.0.0.1:${address.port}/announce`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function writeRandom(path: string, sizeBytes: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = sizeBytes; left > 0; ) {
    const n = Math.min(left, 1 << 20);
    if (!out.write(randomBytes(n))) await once(out, 'drain');
    left -= n;
  }
  out.end();
  await once(out, 'finish');
}

export interface Artifact {
  path: string;
  fileName: string;
  sha256: string;
  torrentPath: string;
  torrentFile: Uint8Array;
  info: TorrentInfo;
}

/** Writes `sizeBytes` of random data and its .torrent (explicit announce list, never public). */
export async function makeArtifact(
  dir: string,
  opts: {
    fileName: string;
    sizeBytes: number;
    announce: string[];
    pieceLengthBytes?: number;
    urlList?: string[];
    /** reuse these bytes instead of random ones (to make a second .torrent of one file) */
    copyFrom?: string;
  },
): Promise<Artifact> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, opts.fileName);
  if (opts.copyFrom) await copyFile(opts.copyFrom, path);
  else await writeRandom(path, opts.sizeBytes);
  const torrentFile = await new Promise<Uint8Array>((resolve, reject) =>
    createTorrent(
      path,
      {
        announceList: [opts.announce],
        pieceLength: opts.pieceLengthBytes ?? 256 * 1024,
        urlList: opts.urlList ?? [],
        createdBy: 'trustswarm-test',
        creationDate: 0,
      },
      (err, t) => (err ? reject(err) : resolve(t)),
    ),
  );
  const torrentPath = join(dir, `${opts.fileName}.torrent`);
  await writeFile(torrentPath, torrentFile);
  return {
    path,
    fileName: opts.fileName,
    sha256: await sha256File(path),
    torrentPath,
    torrentFile,
    info: await readTorrentInfo(torrentFile),
  };
}

export interface AgentEvent {
  event: string;
  [key: string]: unknown;
}

export interface FetchProcess {
  proc: ResultPromise;
  events: AgentEvent[];
  waitFor(pred: (e: AgentEvent) => boolean, timeoutMs?: number): Promise<AgentEvent>;
  lastStats(): { transfers: Record<string, number | string | boolean>[]; bannedPeers: number } | undefined;
}

/** Spawns `tsw-agent fetch`; the agent process is a real, separate BitTorrent peer. */
export function spawnFetch(opts: {
  artifact: Artifact;
  entryId: string;
  dataDir: string;
  seed?: boolean;
  sets?: string[];
  /** the CLI file to run (default dist/cli.js) */
  cli?: string;
}): FetchProcess {
  const args = ['fetch', '--torrent', opts.artifact.torrentPath, '--sha256', opts.artifact.sha256];
  args.push('--entry', opts.entryId, '--data', opts.dataDir);
  if (opts.seed) args.push('--seed');
  for (const s of [
    'transfer.torrentPort=0',
    'transfer.listenAddress=127.0.0.1',
    'transfer.dht.enabled=false',
    ...(opts.sets ?? []),
  ])
    args.push('--set', s);
  const proc = execa('node', [opts.cli ?? cliPath, ...args], { reject: false, stderr: 'pipe' });
  const events: AgentEvent[] = [];
  const waiters: { pred: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }[] = [];
  if (!proc.stdout) throw new Error('no stdout');
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let e: AgentEvent;
    try {
      e = JSON.parse(line) as AgentEvent;
    } catch {
      return;
    }
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  return {
    proc,
    events,
    waitFor(pred, timeoutMs = 60_000) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for an agent event')), timeoutMs);
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
        proc.then((r) => {
          clearTimeout(timer);
          reject(
            new Error(
              `agent exited (${r.exitCode}) before the expected event: ${String(r.stderr).slice(-500)}`,
            ),
          );
        });
      });
    },
    lastStats() {
      const stats = events.filter((e) => e.event === 'stats').at(-1);
      return stats as ReturnType<FetchProcess['lastStats']>;
    },
  };
}

/** Puts a verified copy where `fetch` finds it installed, so that agent only seeds. */
export async function preinstall(dataDir: string, entryId: string, artifact: Artifact): Promise<void> {
  const dir = join(dataDir, 'images', entryId);
  await mkdir(dir, { recursive: true });
  await copyFile(artifact.path, join(dir, artifact.fileName));
}

export async function stopAll(procs: { proc: ResultPromise }[]): Promise<void> {
  for (const p of procs) p.proc.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.proc));
}

/** A test file's swarm ground: a temporary directory and a tracker on 127.0.0.1. */
export async function openSwarm(prefix: string): Promise<{ dir: string; tracker: Tracker }> {
  return { dir: await mkdtemp(join(tmpdir(), prefix)), tracker: await startTracker() };
}

/** Stops what a test file started (agents, then engines), then its tracker, and removes its directory. */
export async function closeSwarm(
  swarm: { dir?: string; tracker?: Tracker },
  started: { procs?: { proc: ResultPromise }[]; engines?: ({ destroy(): Promise<void> } | undefined)[] } = {},
): Promise<void> {
  await stopAll(started.procs ?? []);
  for (const engine of started.engines ?? []) await engine?.destroy();
  await swarm.tracker?.close();
  if (swarm.dir) await rm(swarm.dir, { recursive: true, force: true });
}

/** Transfer settings for an in-process engine on 127.0.0.1, any port, no DHT, no web seed. */
export function loopbackTransferConfig(config: Partial<TransferConfig> = {}): TransferConfig {
  return {
    ...defaultTransferConfig,
    torrentPort: 0,
    listenAddress: '127.0.0.1',
    dht: { ...defaultTransferConfig.dht, enabled: false, port: 0 },
    webSeed: { ...defaultTransferConfig.webSeed, enabled: false },
    ...config,
  };
}

/**
 * An in-process engine seeding `artifact` as the catalog server's origin does (no DHT, no web
 * seed, any port); `config` overrides the transfer settings. The caller destroys it.
 */
export async function startSeedingEngine(
  artifact: Artifact,
  config: Partial<TransferConfig> = {},
  seed: { superSeed?: SuperSeedOptions } = {},
): Promise<TransferEngine> {
  const engine = await TransferEngine.start(loopbackTransferConfig(config));
  await engine.seed(artifact.torrentFile, dirname(artifact.path), seed);
  return engine;
}
