// Benchmark: one download of a 1 GiB image on loopback, our agent (`tsw-agent fetch`)
// against aria2c, on the same file, .torrent and tracker, in the same run. Each leecher
// downloads from one seeder; both seeders are measured (our agent, aria2c) so neither
// side is judged only against its own upload path. Prints throughputs, the ratio
// (goal ≥ 2× aria2c), the agent's peak RSS (goal ≤ 150 MB) and CPU seconds per GiB; writes
// JSON. Several agent builds (`--cli NAME=PATH`, e.g. before/after) leech in turn within
// each round, so the machine's load drifts over all of them alike; the agent seeder is one
// build for all (`--seeder-cli`, default the installed one).
//
//   pnpm --filter @trustswarm/node-agent run build && pnpm exec tsx node-agent/bench/download.ts [--size-mib 1024] [--repeat 3] [--cli NAME=PATH]... [--out FILE]

import { appendFile, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ResultPromise } from 'execa';
import {
  agentEvents,
  cliNodeFlags,
  cpuOf,
  freePort,
  installedCli,
  leechWithAria2,
  machineBusySeconds,
  makeTorrent,
  median,
  PIECE_LENGTH_BYTES,
  packageDir,
  parseBuilds,
  startAgentFetch,
  startAria2Seeder,
  startTracker,
  stop,
  waitForSeeder,
  writeRandomFile,
} from './harness.js';

const { values } = parseArgs({
  options: {
    /** tsw-agent builds that leech, NAME=PATH (or one PATH); default the installed one */
    cli: { type: 'string', multiple: true, default: [] },
    /** the tsw-agent build that seeds (seeder "agent"); default the installed one */
    'seeder-cli': { type: 'string' },
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
    /** appends the leeching agent's non-JSON output (e.g. --trace-gc) to this file */
    'agent-log': { type: 'string' },
  },
});
const installed = await installedCli();
const builds = parseBuilds(values.cli, installed);
const seederCli = values['seeder-cli'] ?? installed;
const seederNames = values.seeders.split(',').filter(Boolean);
const repeat = Math.max(1, Number(values.repeat));
const sizeBytes = Number(values['size-mib']) * 1024 * 1024;
const outPath = values.out ?? join(packageDir, '..', 'bench-results', 'node-agent-download.json');

interface Row {
  seeder: string;
  build: string;
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
  /** CPU seconds of the seeder (agent or aria2c) during the agent's download */
  seederCpuSeconds: number;
  /** CPU seconds of the seeder during aria2c's download: what serving each leecher costs it */
  seederCpuSecondsForAria2c: number;
  /** CPU seconds the machine spent on anything but the agent leecher and the seeder meanwhile */
  othersCpuSeconds: number;
}

type CpuSample = Awaited<ReturnType<typeof cpuOf>>;

/** A process's CPU seconds between two samples (0 without both). */
function cpuBetween(before?: CpuSample, after?: CpuSample): number {
  return before && after ? after.user + after.system - before.user - before.system : 0;
}

async function leechAgent(
  cli: string,
  dataDir: string,
  torrentPath: string,
  sha256: string,
  seederPid?: number,
) {
  const seederBefore = seederPid ? await cpuOf(seederPid) : undefined;
  const machineBefore = await machineBusySeconds();
  const started = process.hrtime.bigint();
  const proc = startAgentFetch({
    cli,
    nodeArgs: values['agent-node-arg'],
    torrentPath,
    sha256,
    dataDir,
    sets: ['transfer.webSeed.enabled=false', ...values['agent-set']],
  });
  let downloadedAt = 0n;
  let maxRssBytes = 0;
  let cpuSeconds = 0;
  const log: string[] = [];
  for await (const e of agentEvents(proc, (line) => log.push(line))) {
    if (e.event === 'downloaded') downloadedAt = process.hrtime.bigint();
    if (e.event === 'installed') {
      maxRssBytes = e.maxRssBytes ?? 0;
      cpuSeconds = e.cpuSeconds ?? 0;
    }
  }
  const result = await proc;
  if (values['agent-log']) await appendFile(values['agent-log'], `${log.join('\n')}\n`);
  if (result.exitCode !== 0 || downloadedAt === 0n) {
    throw new Error(`agent leecher failed (exit ${result.exitCode}): ${String(result.stderr).slice(-500)}`);
  }
  const ended = process.hrtime.bigint();
  const machine = (await machineBusySeconds()) - machineBefore;
  const seederAfter = seederPid ? await cpuOf(seederPid) : undefined;
  const seederCpuSeconds = cpuBetween(seederBefore, seederAfter);
  return {
    seederCpuSeconds,
    othersCpuSeconds: Math.max(0, machine - cpuSeconds - seederCpuSeconds),
    downloadSeconds: Number(downloadedAt - started) / 1e9,
    installSeconds: Number(ended - started) / 1e9,
    maxRssBytes,
    cpuSeconds,
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-bench-'));
  const tracker = await startTracker();
  const results: Row[] = [];
  try {
    const origin = join(dir, 'origin');
    await mkdir(origin, { recursive: true });
    const filePath = join(origin, 'image.qcow2');
    for (const build of builds) {
      process.stdout.write(
        `leecher ${build.name}: ${build.cli}, node flags (from its first line): ${cliNodeFlags(build.cli).join(' ') || 'none'}\n`,
      );
    }
    process.stdout.write(`writing ${sizeBytes / 2 ** 20} MiB of random data...\n`);
    const sha256 = await writeRandomFile(filePath, sizeBytes);
    const torrentFile = await makeTorrent(filePath, tracker.announce);
    const torrentPath = join(dir, 'image.torrent');
    await writeFile(torrentPath, torrentFile);
    const { readTorrentInfo } = await import('@trustswarm/fetch');
    const info = await readTorrentInfo(torrentFile);

    const agentSeedDir = join(dir, 'agent-seeder');
    await mkdir(join(agentSeedDir, 'images', 'bench'), { recursive: true });
    await copyFile(filePath, join(agentSeedDir, 'images', 'bench', 'image.qcow2'));
    const startSeeder: Record<string, () => Promise<{ proc: ResultPromise }>> = {
      agent: async () => ({
        proc: startAgentFetch({ cli: seederCli, torrentPath, sha256, dataDir: agentSeedDir, seed: true }),
      }),
      aria2c: async () => ({ proc: startAria2Seeder(origin, torrentPath, await freePort()) }),
    };
    const gib = sizeBytes / 2 ** 30;
    for (const seederName of ['agent', 'aria2c'].filter((name) => seederNames.includes(name))) {
      const { proc: seeder } = await (startSeeder[seederName] as () => Promise<{ proc: ResultPromise }>)();
      await waitForSeeder(tracker, info.infoHash, seederName);
      process.stdout.write(`seeder ${seederName} ready\n`);
      for (let round = 1; round <= repeat; round++) {
        const ariaDir = join(dir, `leech-aria2-${seederName}`);
        const seederBeforeAria = seeder.pid ? await cpuOf(seeder.pid) : undefined;
        const aria = await leechWithAria2(ariaDir, torrentPath);
        const seederAfterAria = seeder.pid ? await cpuOf(seeder.pid) : undefined;
        const seederCpuSecondsForAria2c = cpuBetween(seederBeforeAria, seederAfterAria);
        await rm(ariaDir, { recursive: true, force: true });
        for (const build of builds) {
          const loadBefore = loadavg()[0] ?? 0;
          const agentDir = join(dir, `leech-agent-${seederName}`);
          const agent = await leechAgent(build.cli, agentDir, torrentPath, sha256, seeder.pid);
          await rm(agentDir, { recursive: true, force: true });
          const mbps = (s: number) => sizeBytes / s / 1e6;
          const row: Row = {
            seeder: seederName,
            build: build.name,
            round,
            loadAvg1m: (loadBefore + (loadavg()[0] ?? 0)) / 2,
            agentDownloadMBps: mbps(agent.downloadSeconds),
            agentInstallMBps: mbps(agent.installSeconds),
            aria2cDownloadMBps: mbps(aria.seconds),
            ratio: aria.seconds / agent.downloadSeconds,
            installRatio: aria.seconds / agent.installSeconds,
            agentPeakRssMB: agent.maxRssBytes / 1e6,
            agentDownloadSeconds: agent.downloadSeconds,
            agentInstallSeconds: agent.installSeconds,
            aria2cSeconds: aria.seconds,
            agentCpuSecondsPerGiB: agent.cpuSeconds / gib,
            aria2cCpuSecondsPerGiB: aria.cpuSeconds / gib,
            seederCpuSeconds: agent.seederCpuSeconds,
            seederCpuSecondsForAria2c,
            othersCpuSeconds: agent.othersCpuSeconds,
          };
          results.push(row);
          process.stdout.write(
            `seeder=${seederName} ${build.name} round ${round} (load ${row.loadAvg1m.toFixed(1)}): agent ${row.agentDownloadMBps.toFixed(1)} MB/s ` +
              `(to installed, sha256 included: ${row.agentInstallMBps.toFixed(1)} MB/s), aria2c ${row.aria2cDownloadMBps.toFixed(1)} MB/s, ` +
              `ratio ${row.ratio.toFixed(2)}x / installed ${row.installRatio.toFixed(2)}x (goal ≥ 2), agent peak RSS ${row.agentPeakRssMB.toFixed(0)} MB (goal ≤ 150); ` +
              `CPU s/GiB agent ${row.agentCpuSecondsPerGiB.toFixed(2)} vs aria2c ${row.aria2cCpuSecondsPerGiB.toFixed(2)}; ` +
              `seeder CPU s serving agent ${row.seederCpuSeconds.toFixed(2)} / aria2c ${row.seederCpuSecondsForAria2c.toFixed(2)}, ` +
              `other processes ${row.othersCpuSeconds.toFixed(2)} s of CPU\n`,
          );
        }
      }
      await stop(seeder);
      // Let the tracker forget the stopped seeder before the next one announces.
      tracker.forget(info.infoHash);
    }
    const summary = seederNames.flatMap((seeder) =>
      builds.map(({ name }) => {
        const rows = results.filter((r) => r.seeder === seeder && r.build === name);
        const med = (key: keyof Row) => median(rows.map((r) => Number(r[key])));
        return {
          seeder,
          build: name,
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
      }),
    );
    for (const s of summary) {
      process.stdout.write(
        `median of ${s.rounds}, seeder=${s.seeder} ${s.build} (load ${s.loadAvg1m.toFixed(1)}): agent ${s.agentDownloadMBps.toFixed(1)} MB/s, ` +
          `installed ${s.agentInstallMBps.toFixed(1)} MB/s, aria2c ${s.aria2cDownloadMBps.toFixed(1)} MB/s, ratio ${s.ratio.toFixed(2)}x ` +
          `(installed ${s.installRatio.toFixed(2)}x; goal ≥ 2), max peak RSS ${s.agentPeakRssMB.toFixed(0)} MB (goal ≤ 150), ` +
          `CPU s/GiB agent ${s.agentCpuSecondsPerGiB.toFixed(2)} vs aria2c ${s.aria2cCpuSecondsPerGiB.toFixed(2)}\n`,
      );
    }
    const report = {
      benchmark: 'node-agent download',
      sizeBytes,
      pieceLengthBytes: PIECE_LENGTH_BYTES,
      node: process.version,
      builds,
      seederCli,
      agentNodeArgs: values['agent-node-arg'],
      agentSets: values['agent-set'],
      cpus: cpus().length,
      summary,
      results,
    };
    await mkdir(dirname(outPath), { recursive: true });
    await writeFile(outPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`wrote ${outPath}\n`);
  } finally {
    await tracker.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
