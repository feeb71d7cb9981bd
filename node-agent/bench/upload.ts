// Dev benchmark: what seeding costs the agent. An agent seeds a 1 GiB image on loopback
// (`tsw-agent fetch --seed`, as installed) and an aria2c leecher downloads it from that agent
// alone; the seeder's CPU (user + system, all threads, from /proc) is read before and after
// each download: CPU seconds per GiB uploaded. aria2c leeches because it is cheap, so the
// seeder's cost is what the cores spend on this transfer beyond the leecher's.
//
// Several builds can be compared in one run, their rounds interleaved so that the machine's
// load drifts over all of them alike (`--cli before=PATH --cli after=PATH`; each seeder has a
// tracker and a .torrent of its own, same info hash). Also checks that the seeder's status
// (uploadedBytes) counted what it sent.
//
//   pnpm run build && pnpm exec tsx node-agent/bench/upload.ts [--size-mib 1024] [--repeat 3] [--cli NAME=PATH]...

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Server } from 'bittorrent-tracker';
import createTorrent from 'create-torrent';
import { execa, type ResultPromise } from 'execa';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const packageJson = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
};
const installedCli = join(packageDir, packageJson.bin['tsw-agent'] ?? 'dist/cli.js');
const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    repeat: { type: 'string', default: '3' },
    /** NAME=PATH of a tsw-agent build; default: the installed one */
    cli: { type: 'string', multiple: true, default: [] },
    /** extra node flags for every seeder, e.g. --cpu-prof (profiling only) */
    'seeder-node-arg': { type: 'string', multiple: true, default: [] },
    /** extra `--set transfer.key=value` for every seeder */
    'agent-set': { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
  },
});
const sizeBytes = Number(values['size-mib']) * 1024 * 1024;
const repeat = Math.max(1, Number(values.repeat));
const builds = (values.cli.length ? values.cli : [`agent=${installedCli}`]).map((spec) => {
  const at = spec.indexOf('=');
  if (at <= 0) throw new Error(`--cli NAME=PATH, got ${spec}`);
  return { name: spec.slice(0, at), cli: spec.slice(at + 1) };
});
const agentSets = values['agent-set'].flatMap((set) => ['--set', set]);
const outPath = values.out ?? join(packageDir, '..', 'bench-results', 'node-agent-upload.json');
const ticksPerSecond = 100; // USER_HZ on Linux

/** user and system CPU seconds of a process, all its threads */
async function cpuOf(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / ticksPerSecond, system: Number(fields[12]) / ticksPerSecond };
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

async function cliNodeFlags(cli: string): Promise<string[]> {
  return ((await readFile(cli, 'utf8')).split('\n', 1)[0] ?? '')
    .replace(/^#!\S*env -S node/, '')
    .split(' ')
    .filter((flag) => flag.startsWith('--'));
}

interface SeederRun {
  name: string;
  tracker: Server;
  torrentPath: string;
  proc: ResultPromise;
  /** the seeder's last reported uploadedBytes */
  uploadedBytes: number;
}

interface Row {
  build: string;
  round: number;
  loadAvg1m: number;
  seconds: number;
  MBps: number;
  seederCpuSeconds: number;
  seederCpuSecondsPerGiB: number;
  seederUserSecondsPerGiB: number;
  seederSystemSecondsPerGiB: number;
  aria2cCpuSecondsPerGiB: number;
  /** what the seeder's status says it uploaded during the round, per byte of the file */
  reportedUploadRatio: number;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-upload-bench-'));
  const seeders: SeederRun[] = [];
  const rows: Row[] = [];
  try {
    const filePath = join(dir, 'image.qcow2');
    process.stdout.write(`writing ${sizeBytes / 2 ** 20} MiB of random data...\n`);
    const sha256 = await writeRandomFile(filePath);
    let infoHash = '';
    for (const build of builds) {
      const tracker = new Server({ http: true, udp: false, ws: false, stats: false });
      await new Promise<void>((r) => tracker.listen(0, '127.0.0.1', () => r()));
      const address = tracker.http?.address();
      if (!address || typeof address === 'string') throw new Error('tracker did not bind');
      const announce = `http://127.0.0.1:${address.port}/announce`;
      const torrentFile = await new Promise<Uint8Array>((resolve, reject) =>
        createTorrent(filePath, { announceList: [[announce]], pieceLength: 4 << 20 }, (err, t) =>
          err ? reject(err) : resolve(t),
        ),
      );
      const torrentPath = join(dir, `${build.name}.torrent`);
      await writeFile(torrentPath, torrentFile);
      const { readTorrentInfo } = await import('@trustswarm/fetch');
      infoHash = (await readTorrentInfo(torrentFile)).infoHash;
      const data = join(dir, `seed-${build.name}`);
      await mkdir(join(data, 'images', 'bench'), { recursive: true });
      await link(filePath, join(data, 'images', 'bench', 'image.qcow2'));
      const proc = execa(
        'node',
        [
          ...(await cliNodeFlags(build.cli)),
          ...values['seeder-node-arg'],
          build.cli,
          'fetch',
          '--torrent',
          torrentPath,
          '--sha256',
          sha256,
          '--entry',
          'bench',
          '--data',
          data,
          '--seed',
          '--set',
          'transfer.torrentPort=0',
          '--set',
          'transfer.dht.enabled=false',
          ...agentSets,
        ],
        { reject: false },
      );
      const seeder: SeederRun = { name: build.name, tracker, torrentPath, proc, uploadedBytes: 0 };
      seeders.push(seeder);
      if (!proc.stdout) throw new Error('no stdout');
      void (async () => {
        for await (const line of createInterface({ input: proc.stdout as NodeJS.ReadableStream })) {
          const e = JSON.parse(line) as { event: string; transfers?: Array<{ uploadedBytes: number }> };
          if (e.event === 'stats' && e.transfers?.[0]) seeder.uploadedBytes = e.transfers[0].uploadedBytes;
        }
      })();
      const torrents = (tracker as unknown as { torrents: Record<string, { complete: number } | undefined> })
        .torrents;
      const deadline = Date.now() + 120_000;
      while ((torrents[infoHash]?.complete ?? 0) < 1) {
        if (Date.now() > deadline) throw new Error(`seeder ${build.name} never announced`);
        await new Promise((r) => setTimeout(r, 100));
      }
      process.stdout.write(`seeder ${build.name} (${build.cli}) ready\n`);
    }
    const gib = sizeBytes / 2 ** 30;
    for (let round = 1; round <= repeat; round++) {
      for (const seeder of seeders) {
        const pid = seeder.proc.pid;
        if (pid === undefined) throw new Error('seeder has no pid');
        const leechDir = join(dir, 'leech');
        const loadBefore = loadavg()[0] ?? 0;
        const uploadedBefore = seeder.uploadedBytes;
        const cpuBefore = await cpuOf(pid);
        const started = process.hrtime.bigint();
        const args = [
          '--enable-dht=false',
          '--enable-dht6=false',
          '--enable-peer-exchange=false',
          '--bt-enable-lpd=false',
          '--disable-ipv6=true',
          '--interface=127.0.0.1',
          `--listen-port=${await freePort()}`,
          '--console-log-level=warn',
          '--summary-interval=0',
          '--file-allocation=none',
          `--dir=${leechDir}`,
          '--seed-time=0',
          seeder.torrentPath,
        ];
        const result = await execa('bash', ['-c', 'aria2c "$@" >/dev/null && times', 'bench', ...args]);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const cpuAfter = await cpuOf(pid);
        const user = cpuAfter.user - cpuBefore.user;
        const system = cpuAfter.system - cpuBefore.system;
        const cpu = user + system;
        // the seeder reports every 500 ms: wait for a report that covers the round
        await new Promise((r) => setTimeout(r, 1200));
        await rm(leechDir, { recursive: true, force: true });
        const children = result.stdout.trim().split('\n').at(-1) ?? '';
        const ariaCpu = [...children.matchAll(/(\d+)m([\d.]+)s/g)]
          .map((m) => Number(m[1]) * 60 + Number(m[2]))
          .reduce((a, b) => a + b, 0);
        const row: Row = {
          build: seeder.name,
          round,
          loadAvg1m: (loadBefore + (loadavg()[0] ?? 0)) / 2,
          seconds,
          MBps: sizeBytes / seconds / 1e6,
          seederCpuSeconds: cpu,
          seederCpuSecondsPerGiB: cpu / gib,
          seederUserSecondsPerGiB: user / gib,
          seederSystemSecondsPerGiB: system / gib,
          aria2cCpuSecondsPerGiB: ariaCpu / gib,
          reportedUploadRatio: (seeder.uploadedBytes - uploadedBefore) / sizeBytes,
        };
        rows.push(row);
        process.stdout.write(
          `${row.build} round ${round} (load ${row.loadAvg1m.toFixed(1)}): ${row.MBps.toFixed(0)} MB/s, ` +
            `seeder CPU ${row.seederCpuSecondsPerGiB.toFixed(2)} s/GiB (user ${row.seederUserSecondsPerGiB.toFixed(2)}, ` +
            `system ${row.seederSystemSecondsPerGiB.toFixed(2)}), aria2c ${row.aria2cCpuSecondsPerGiB.toFixed(2)} s/GiB, ` +
            `seeder reported ${row.reportedUploadRatio.toFixed(3)} × the file uploaded\n`,
        );
      }
    }
    const summary = builds.map(({ name }) => {
      const mine = rows.filter((r) => r.build === name);
      const med = (key: keyof Row) => median(mine.map((r) => Number(r[key])));
      return {
        build: name,
        rounds: mine.length,
        loadAvg1m: med('loadAvg1m'),
        MBps: med('MBps'),
        seederCpuSecondsPerGiB: med('seederCpuSecondsPerGiB'),
        seederUserSecondsPerGiB: med('seederUserSecondsPerGiB'),
        seederSystemSecondsPerGiB: med('seederSystemSecondsPerGiB'),
        aria2cCpuSecondsPerGiB: med('aria2cCpuSecondsPerGiB'),
      };
    });
    for (const s of summary) {
      process.stdout.write(
        `median of ${s.rounds}, ${s.build} (load ${s.loadAvg1m.toFixed(1)}): ${s.MBps.toFixed(0)} MB/s, ` +
          `seeder CPU ${s.seederCpuSecondsPerGiB.toFixed(2)} s/GiB (user ${s.seederUserSecondsPerGiB.toFixed(2)}, ` +
          `system ${s.seederSystemSecondsPerGiB.toFixed(2)}), aria2c ${s.aria2cCpuSecondsPerGiB.toFixed(2)} s/GiB\n`,
      );
    }
    await mkdir(dirname(outPath), { recursive: true });
    await writeFile(
      outPath,
      `${JSON.stringify({ benchmark: 'node-agent upload', sizeBytes, builds, summary, rows }, null, 2)}\n`,
    );
    process.stdout.write(`wrote ${outPath}\n`);
  } finally {
    for (const s of seeders) {
      s.proc.kill('SIGTERM');
      await s.proc;
      await new Promise<void>((r) => s.tracker.close(() => r()));
    }
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
