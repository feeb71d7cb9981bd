// Benchmark: one download of a 1 GiB image on loopback, our agent (`tsw-agent fetch`)
// against aria2c, on the same file, .torrent and tracker, in the same run. Each leecher
// downloads from one seeder; both seeders are measured (our agent, aria2c) so neither
// side is judged only against its own upload path. Prints throughputs, the ratio
// (goal ≥ 2× aria2c) and the agent's peak RSS (goal ≤ 150 MB); writes JSON.
//
//   pnpm --filter @trustswarm/node-agent run build && pnpm exec tsx node-agent/bench/download.ts [--size-mib 1024] [--out FILE] [--cli PATH]

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Server } from 'bittorrent-tracker';
import createTorrent from 'create-torrent';
import { execa, type ResultPromise } from 'execa';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The installed `tsw-agent`: the package's bin (the bundle, scripts/bundle.mjs). */
const packageJson = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
};
const { values } = parseArgs({
  options: {
    /** the tsw-agent build to run (seeder and leecher), e.g. a copy of main's for a before/after */
    cli: { type: 'string' },
    'size-mib': { type: 'string', default: '1024' },
    out: { type: 'string' },
    /** comma list of seeders to measure against: agent, aria2c */
    seeders: { type: 'string', default: 'agent,aria2c' },
    /** rounds per seeder; the summary gives the median */
    repeat: { type: 'string', default: '1' },
    /** extra node flags for the leeching agent, e.g. --cpu-prof (profiling only) */
    'agent-node-arg': { type: 'string', multiple: true, default: [] },
    /** extra `--set transfer.key=value` for the leeching agent, e.g. transfer.maxRequestsPerPeer=1024 */
    'agent-set': { type: 'string', multiple: true, default: [] },
  },
});
const cli = values.cli ?? join(packageDir, packageJson.bin['tsw-agent'] ?? 'dist/cli.js');
/** The node flags of the CLI's `#!/usr/bin/env -S node ...` line: the agent runs as installed. */
const cliNodeFlags = ((await readFile(cli, 'utf8')).split('\n', 1)[0] ?? '')
  .replace(/^#!\S*env -S node/, '')
  .split(' ')
  .filter((flag) => flag.startsWith('--'));
const seederNames = values.seeders.split(',').filter(Boolean);
const repeat = Math.max(1, Number(values.repeat));
const agentNodeArgs = values['agent-node-arg'];
const agentSets = values['agent-set'].flatMap((set) => ['--set', set]);
const sizeBytes = Number(values['size-mib']) * 1024 * 1024;
const outPath = values.out ?? join(packageDir, '..', 'bench-results', 'node-agent-download.json');

interface Row {
  seeder: string;
  round: number;
  loadAvg1m: number;
  agentDownloadMBps: number;
  agentInstallMBps: number;
  aria2cDownloadMBps: number;
  ratio: number;
  installRatio: number;
  agentPeakRssMB: number;
  agentDownloadSeconds: number;
  agentInstallSeconds: number;
  aria2cSeconds: number;
  agentCpuSecondsPerGiB: number;
  aria2cCpuSecondsPerGiB: number;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function writeRandomFile(path: string): Promise<string> {
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

function aria2Common(port: number): string[] {
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

interface Seeder {
  name: string;
  proc: ResultPromise;
}

async function waitForSeeder(tracker: Server, infoHash: string): Promise<void> {
  const torrents = (tracker as unknown as { torrents: Record<string, { complete: number } | undefined> })
    .torrents;
  const deadline = Date.now() + 120_000;
  while ((torrents[infoHash]?.complete ?? 0) < 1) {
    if (Date.now() > deadline) throw new Error('seeder never announced');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function leechAgent(dir: string, torrentPath: string, sha256: string) {
  const started = process.hrtime.bigint();
  const proc = execa('node', [
    ...cliNodeFlags,
    ...agentNodeArgs,
    cli,
    'fetch',
    '--torrent',
    torrentPath,
    '--sha256',
    sha256,
    '--entry',
    'bench',
    '--data',
    dir,
    '--set',
    'transfer.torrentPort=0',
    '--set',
    'transfer.dht.enabled=false',
    '--set',
    'transfer.webSeed.enabled=false',
    ...agentSets,
  ]);
  let downloadedAt = 0n;
  let maxRssBytes = 0;
  let cpuSeconds = 0;
  if (!proc.stdout) throw new Error('no stdout');
  for await (const line of createInterface({ input: proc.stdout })) {
    const e = JSON.parse(line) as { event: string; maxRssBytes?: number; cpuSeconds?: number };
    if (e.event === 'downloaded') downloadedAt = process.hrtime.bigint();
    if (e.event === 'installed') {
      maxRssBytes = e.maxRssBytes ?? 0;
      cpuSeconds = e.cpuSeconds ?? 0;
    }
  }
  await proc;
  const ended = process.hrtime.bigint();
  return {
    downloadSeconds: Number(downloadedAt - started) / 1e9,
    installSeconds: Number(ended - started) / 1e9,
    maxRssBytes,
    cpuSeconds,
  };
}

async function leechAria2(dir: string, torrentPath: string) {
  const started = process.hrtime.bigint();
  // bash's `times` prints the CPU time of its children (aria2c): wall time alone is unfair
  // on a machine shared with other jobs.
  const args = [...aria2Common(await freePort()), `--dir=${dir}`, '--seed-time=0', torrentPath];
  const result = await execa('bash', ['-c', 'aria2c "$@" >/dev/null && times', 'bench', ...args]);
  const downloadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const children = result.stdout.trim().split('\n').at(-1) ?? '';
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { downloadSeconds, cpuSeconds: seconds.reduce((a, b) => a + b, 0) };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-bench-'));
  const tracker = new Server({ http: true, udp: false, ws: false, stats: false });
  await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', () => r()));
  const address = tracker.http?.address();
  if (!address || typeof address === 'string') throw new Error('tracker did not bind');
  const announce = `http://127.0.0.1:${address.port}/announce`;
  const results: Row[] = [];
  try {
    const origin = join(dir, 'origin');
    await mkdir(origin, { recursive: true });
    const filePath = join(origin, 'image.qcow2');
    process.stdout.write(
      `agent node flags (from the CLI's first line): ${cliNodeFlags.join(' ') || 'none'}\n`,
    );
    process.stdout.write(`writing ${sizeBytes / 2 ** 20} MiB of random data...\n`);
    const sha256 = await writeRandomFile(filePath);
    const torrentFile = await new Promise<Uint8Array>((resolve, reject) =>
      createTorrent(filePath, { announceList: [[announce]], pieceLength: 4 << 20 }, (err, t) =>
        err ? reject(err) : resolve(t),
      ),
    );
    const torrentPath = join(dir, 'image.torrent');
    await writeFile(torrentPath, torrentFile);
    const { readTorrentInfo } = await import('@trustswarm/fetch');
    const info = await readTorrentInfo(torrentFile);

    const agentSeedDir = join(dir, 'agent-seeder');
    await mkdir(join(agentSeedDir, 'images', 'bench'), { recursive: true });
    await copyFile(filePath, join(agentSeedDir, 'images', 'bench', 'image.qcow2'));
    const seeders: Array<() => Promise<Seeder>> = [
      async () => ({
        name: 'agent',
        proc: execa(
          'node',
          [
            ...cliNodeFlags,
            cli,
            'fetch',
            '--torrent',
            torrentPath,
            '--sha256',
            sha256,
            '--entry',
            'bench',
            '--data',
            agentSeedDir,
            '--seed',
            '--set',
            'transfer.torrentPort=0',
            '--set',
            'transfer.dht.enabled=false',
          ],
          { reject: false },
        ),
      }),
      async () => ({
        name: 'aria2c',
        proc: execa(
          'aria2c',
          [...aria2Common(await freePort()), `--dir=${origin}`, '-V', '--seed-ratio=0.0', torrentPath],
          { reject: false },
        ),
      }),
    ];
    const gib = sizeBytes / 2 ** 30;
    for (const start of seeders) {
      const seeder = await start();
      if (!seederNames.includes(seeder.name)) {
        seeder.proc.kill('SIGTERM');
        await seeder.proc;
        continue;
      }
      await waitForSeeder(tracker, info.infoHash);
      process.stdout.write(`seeder ${seeder.name} ready\n`);
      for (let round = 1; round <= repeat; round++) {
        const loadBefore = loadavg()[0] ?? 0;
        const agentDir = join(dir, `leech-agent-${seeder.name}`);
        const agent = await leechAgent(agentDir, torrentPath, sha256);
        await rm(agentDir, { recursive: true, force: true });
        const ariaDir = join(dir, `leech-aria2-${seeder.name}`);
        const aria = await leechAria2(ariaDir, torrentPath);
        await rm(ariaDir, { recursive: true, force: true });
        const mbps = (s: number) => sizeBytes / s / 1e6;
        const row: Row = {
          seeder: seeder.name,
          round,
          loadAvg1m: (loadBefore + (loadavg()[0] ?? 0)) / 2,
          agentDownloadMBps: mbps(agent.downloadSeconds),
          agentInstallMBps: mbps(agent.installSeconds),
          aria2cDownloadMBps: mbps(aria.downloadSeconds),
          ratio: aria.downloadSeconds / agent.downloadSeconds,
          installRatio: aria.downloadSeconds / agent.installSeconds,
          agentPeakRssMB: agent.maxRssBytes / 1e6,
          agentDownloadSeconds: agent.downloadSeconds,
          agentInstallSeconds: agent.installSeconds,
          aria2cSeconds: aria.downloadSeconds,
          agentCpuSecondsPerGiB: agent.cpuSeconds / gib,
          aria2cCpuSecondsPerGiB: aria.cpuSeconds / gib,
        };
        results.push(row);
        process.stdout.write(
          `seeder=${seeder.name} round ${round} (load ${row.loadAvg1m.toFixed(1)}): agent ${row.agentDownloadMBps.toFixed(1)} MB/s ` +
            `(to installed, sha256 included: ${row.agentInstallMBps.toFixed(1)} MB/s), aria2c ${row.aria2cDownloadMBps.toFixed(1)} MB/s, ` +
            `ratio ${row.ratio.toFixed(2)}x / installed ${row.installRatio.toFixed(2)}x (goal ≥ 2), agent peak RSS ${row.agentPeakRssMB.toFixed(0)} MB (goal ≤ 150); ` +
            `CPU s/GiB agent ${row.agentCpuSecondsPerGiB.toFixed(2)} vs aria2c ${row.aria2cCpuSecondsPerGiB.toFixed(2)}\n`,
        );
      }
      seeder.proc.kill('SIGTERM');
      await seeder.proc;
      // Let the tracker forget the stopped seeder before the next one announces.
      const torrents = (tracker as unknown as { torrents: Record<string, unknown> }).torrents;
      delete torrents[info.infoHash];
    }
    const summary = seederNames.map((name) => {
      const rows = results.filter((r) => r.seeder === name);
      const med = (key: keyof Row) => median(rows.map((r) => Number(r[key])));
      return {
        seeder: name,
        rounds: rows.length,
        loadAvg1m: med('loadAvg1m'),
        agentDownloadMBps: med('agentDownloadMBps'),
        agentInstallMBps: med('agentInstallMBps'),
        aria2cDownloadMBps: med('aria2cDownloadMBps'),
        ratio: med('ratio'),
        installRatio: med('installRatio'),
        agentPeakRssMB: Math.max(...rows.map((r) => r.agentPeakRssMB)),
        agentCpuSecondsPerGiB: med('agentCpuSecondsPerGiB'),
        aria2cCpuSecondsPerGiB: med('aria2cCpuSecondsPerGiB'),
      };
    });
    for (const s of summary) {
      process.stdout.write(
        `median of ${s.rounds}, seeder=${s.seeder} (load ${s.loadAvg1m.toFixed(1)}): agent ${s.agentDownloadMBps.toFixed(1)} MB/s, ` +
          `installed ${s.agentInstallMBps.toFixed(1)} MB/s, aria2c ${s.aria2cDownloadMBps.toFixed(1)} MB/s, ratio ${s.ratio.toFixed(2)}x ` +
          `(installed ${s.installRatio.toFixed(2)}x; goal ≥ 2), max peak RSS ${s.agentPeakRssMB.toFixed(0)} MB (goal ≤ 150), ` +
          `CPU s/GiB agent ${s.agentCpuSecondsPerGiB.toFixed(2)} vs aria2c ${s.aria2cCpuSecondsPerGiB.toFixed(2)}\n`,
      );
    }
    const report = {
      benchmark: 'node-agent download',
      sizeBytes,
      pieceLengthBytes: 4 << 20,
      node: process.version,
      agentNodeFlags: [...cliNodeFlags, ...agentNodeArgs],
      agentSets: values['agent-set'],
      cpus: cpus().length,
      summary,
      results,
    };
    await mkdir(dirname(outPath), { recursive: true });
    await writeFile(outPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`wrote ${outPath}\n`);
  } finally {
    await new Promise<void>((r) => tracker.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
