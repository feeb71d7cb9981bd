// What the node-agent benches (download.ts, upload.ts) and the aria2c interop test share:
// the agent as installed (its bundle and the node flags of its `#!` line), a random file
// and its .torrent, a tracker on 127.0.0.1, agent and aria2c processes with the same
// arguments everywhere, CPU accounting, and the medians of rounds.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Server } from 'bittorrent-tracker';
import createTorrent from 'create-torrent';
import { execa, type ResultPromise } from 'execa';

export const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PIECE_LENGTH_BYTES = 4 << 20;

/** The installed `tsw-agent`: the package's bin (the bundle, scripts/bundle.mjs). */
export async function installedCli(): Promise<string> {
  const packageJson = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  return join(packageDir, packageJson.bin['tsw-agent'] ?? 'dist/cli.js');
}

/** The node flags of a CLI's `#!/usr/bin/env -S node ...` line: the agent runs as installed. */
export function cliNodeFlags(cli: string): string[] {
  return (readFileSync(cli, 'utf8').split('\n', 1)[0] ?? '')
    .replace(/^#!\S*env -S node/, '')
    .split(' ')
    .filter((flag) => flag.startsWith('--'));
}

/** `NAME=PATH` specs of builds to compare (a bare PATH is named `fallbackName`). */
export function parseBuilds(specs: string[], fallback: string, fallbackName = 'agent') {
  if (specs.length === 0) return [{ name: fallbackName, cli: fallback }];
  return specs.map((spec) => {
    const at = spec.indexOf('=');
    if (at === 0) throw new Error(`--cli NAME=PATH, got ${spec}`);
    return at < 0 ? { name: fallbackName, cli: spec } : { name: spec.slice(0, at), cli: spec.slice(at + 1) };
  });
}

export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** aria2c cannot listen on port 0: ask the kernel for a free port and hand it over. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Writes `sizeBytes` of random data to `path`; returns its sha256 (hex). */
export async function writeRandomFile(path: string, sizeBytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = sizeBytes; left > 0; ) {
    const chunk = randomBytes(Math.min(left, 4 << 20));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
    left -= chunk.length;
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

export interface BenchTracker {
  tracker: Server;
  announce: string;
  /** how many seeders of `infoHash` announced */
  seeders(infoHash: string): number;
  /** forgets a torrent's peers (before another seeder announces it) */
  forget(infoHash: string): void;
  close(): Promise<void>;
}

export async function startTracker(): Promise<BenchTracker> {
  const tracker = new Server({ http: true, udp: false, ws: false, stats: false });
  await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', () => r()));
  const address = tracker.http?.address();
  if (!address || typeof address === 'string') throw new Error('tracker did not bind');
  const torrents = (tracker as unknown as { torrents: Record<string, { complete: number } | undefined> })
    .torrents;
  return {
    tracker,
    announce: `http://127.0.0.1:${address.port}/announce`,
    seeders: (infoHash) => torrents[infoHash]?.complete ?? 0,
    forget: (infoHash) => {
      delete torrents[infoHash];
    },
    close: () => new Promise<void>((r) => tracker.close(() => r())),
  };
}

export function makeTorrent(filePath: string, announce: string): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) =>
    createTorrent(filePath, { announceList: [[announce]], pieceLength: PIECE_LENGTH_BYTES }, (err, t) =>
      err ? reject(err) : resolve(t),
    ),
  );
}

export async function waitForSeeder(tracker: BenchTracker, infoHash: string, label: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (tracker.seeders(infoHash) < 1) {
    if (Date.now() > deadline) throw new Error(`seeder ${label} never announced`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** aria2c on 127.0.0.1 only, without DHT, PEX, LPD, IPv6 or preallocation (interop test and benches). */
export function aria2Args(port: number): string[] {
  return [
    '--enable-dht=false',
    '--enable-dht6=false',
    '--enable-peer-exchange=false',
    '--bt-enable-lpd=false',
    '--disable-ipv6=true',
    '--interface=127.0.0.1',
    `--listen-port=${port}`,
    '--console-log-level=warn',
    '--summary-interval=0',
    '--file-allocation=none',
  ];
}

/** aria2c seeding the file in `dir` forever, after checking it (-V). */
export function startAria2Seeder(dir: string, torrentPath: string, port: number): ResultPromise {
  const args = [...aria2Args(port), `--dir=${dir}`, '-V', '--seed-ratio=0.0', torrentPath];
  return execa('aria2c', args, { reject: false });
}

/** One aria2c download into `dir`; wall seconds and aria2c's CPU seconds (bash `times`). */
export async function leechWithAria2(
  dir: string,
  torrentPath: string,
): Promise<{ seconds: number; cpuSeconds: number }> {
  const started = process.hrtime.bigint();
  const args = [...aria2Args(await freePort()), `--dir=${dir}`, '--seed-time=0', torrentPath];
  // bash's `times` prints the CPU time of its children (aria2c)
  const result = await execa('bash', ['-c', 'aria2c "$@" >/dev/null && times', 'bench', ...args]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const children = result.stdout.trim().split('\n').at(-1) ?? '';
  const times = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { seconds, cpuSeconds: times.reduce((a, b) => a + b, 0) };
}

export interface AgentFetch {
  cli: string;
  /** node flags beyond the CLI's own (profiling) */
  nodeArgs?: string[];
  torrentPath: string;
  sha256: string;
  dataDir: string;
  seed?: boolean;
  /** `transfer.key=value` settings */
  sets?: string[];
}

/** `tsw-agent fetch` as installed (node flags from its `#!` line), on a free port, without DHT. */
export function startAgentFetch(run: AgentFetch): ResultPromise {
  const sets = ['transfer.torrentPort=0', 'transfer.dht.enabled=false', ...(run.sets ?? [])];
  return execa(
    'node',
    [
      ...cliNodeFlags(run.cli),
      ...(run.nodeArgs ?? []),
      run.cli,
      'fetch',
      '--torrent',
      run.torrentPath,
      '--sha256',
      run.sha256,
      '--entry',
      'bench',
      '--data',
      run.dataDir,
      ...(run.seed ? ['--seed'] : []),
      ...sets.flatMap((set) => ['--set', set]),
    ],
    { reject: false },
  );
}

export interface AgentEvent {
  event: string;
  maxRssBytes?: number;
  cpuSeconds?: number;
  transfers?: Array<{ uploadedBytes: number }>;
}

/** The agent's JSON event lines; other lines (e.g. node's --trace-gc) go to `other`. */
export async function* agentEvents(
  proc: ResultPromise,
  other: (line: string) => void = () => {},
): AsyncGenerator<AgentEvent> {
  if (!proc.stdout) throw new Error('no stdout');
  for await (const line of createInterface({ input: proc.stdout })) {
    if (line.startsWith('{')) yield JSON.parse(line) as AgentEvent;
    else other(line);
  }
}

/** user and system CPU seconds of a process, all its threads */
export async function cpuOf(pid: number): Promise<{ user: number; system: number }> {
  const ticksPerSecond = 100; // USER_HZ on Linux
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / ticksPerSecond, system: Number(fields[12]) / ticksPerSecond };
}

/** CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait) */
export async function machineBusySeconds(): Promise<number> {
  const ticksPerSecond = 100; // USER_HZ
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (fields.slice(0, 8).reduce((a, b) => a + b, 0) - idle) / ticksPerSecond;
}

export async function stop(proc: ResultPromise): Promise<void> {
  proc.kill('SIGTERM');
  await proc;
}
