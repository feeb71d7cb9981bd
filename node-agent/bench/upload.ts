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

import { appendFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ResultPromise } from 'execa';
import {
  agentEvents,
  type BenchTracker,
  cpuOf,
  installedCli,
  leechWithAria2,
  makeTorrent,
  median,
  packageDir,
  parseBuilds,
  startAgentFetch,
  startTracker,
  stop,
  waitForSeeder,
  writeRandomFile,
} from './harness.js';

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
    /** appends the seeders' non-JSON output (e.g. --trace-gc) to this file */
    'seeder-log': { type: 'string' },
    out: { type: 'string' },
  },
});
const sizeBytes = Number(values['size-mib']) * 1024 * 1024;
const repeat = Math.max(1, Number(values.repeat));
const builds = parseBuilds(values.cli, await installedCli());
const outPath = values.out ?? join(packageDir, '..', 'bench-results', 'node-agent-upload.json');

interface SeederRun {
  name: string;
  tracker: BenchTracker;
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

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-upload-bench-'));
  const seeders: SeederRun[] = [];
  const rows: Row[] = [];
  try {
    const filePath = join(dir, 'image.qcow2');
    process.stdout.write(`writing ${sizeBytes / 2 ** 20} MiB of random data...\n`);
    const sha256 = await writeRandomFile(filePath, sizeBytes);
    const { readTorrentInfo } = await import('@trustswarm/fetch');
    for (const build of builds) {
      const tracker = await startTracker();
      const torrentFile = await makeTorrent(filePath, tracker.announce);
      const torrentPath = join(dir, `${build.name}.torrent`);
      await writeFile(torrentPath, torrentFile);
      const infoHash = (await readTorrentInfo(torrentFile)).infoHash;
      const data = join(dir, `seed-${build.name}`);
      await mkdir(join(data, 'images', 'bench'), { recursive: true });
      await link(filePath, join(data, 'images', 'bench', 'image.qcow2'));
      const proc = startAgentFetch({
        cli: build.cli,
        nodeArgs: values['seeder-node-arg'],
        torrentPath,
        sha256,
        dataDir: data,
        seed: true,
        sets: values['agent-set'],
      });
      const seeder: SeederRun = { name: build.name, tracker, torrentPath, proc, uploadedBytes: 0 };
      seeders.push(seeder);
      void (async () => {
        const logPath = values['seeder-log'];
        const other = logPath
          ? (line: string) => appendFileSync(logPath, `${build.name}: ${line}\n`)
          : undefined;
        for await (const e of agentEvents(proc, other)) {
          if (e.event === 'stats' && e.transfers?.[0]) seeder.uploadedBytes = e.transfers[0].uploadedBytes;
        }
      })();
      await waitForSeeder(tracker, infoHash, build.name);
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
        const aria = await leechWithAria2(leechDir, seeder.torrentPath);
        const cpuAfter = await cpuOf(pid);
        const user = cpuAfter.user - cpuBefore.user;
        const system = cpuAfter.system - cpuBefore.system;
        const cpu = user + system;
        // the seeder reports every 500 ms: wait for a report that covers the round
        await new Promise((r) => setTimeout(r, 1200));
        await rm(leechDir, { recursive: true, force: true });
        const row: Row = {
          build: seeder.name,
          round,
          loadAvg1m: (loadBefore + (loadavg()[0] ?? 0)) / 2,
          seconds: aria.seconds,
          MBps: sizeBytes / aria.seconds / 1e6,
          seederCpuSeconds: cpu,
          seederCpuSecondsPerGiB: cpu / gib,
          seederUserSecondsPerGiB: user / gib,
          seederSystemSecondsPerGiB: system / gib,
          aria2cCpuSecondsPerGiB: aria.cpuSeconds / gib,
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
      await stop(s.proc);
      await s.tracker.close();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
