// Dev harness (not the benchmark): where does the shared-base tag's time go, run after run?
// Builds the bench's base layers once and N variants of the top layer (the same files of
// usr/lib/python3, each file's content salted per variant so nothing is reused from the cache),
// pushes them into a docker-registry, ingests v1 once, then ingests the tags sharing its base one
// after the other, printing per-thread run / wait-for-CPU / sleep, faults, steal and PSI per tag.
//
//   flock /tmp/tsw-bench.lock nice -n -10 pnpm exec tsx --conditions=@trustswarm/source \
//     bench/dev-shared-base.ts -- --variants 6
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { extract, pack } from 'tar-stream';
import { defaultContainerConfig } from '../src/containers/config.js';
import { convertImage } from '../src/containers/convert.js';
import type { ProgressEvent } from '../src/containers/events.js';
import { DEFAULT_REPO_SETTINGS, Repository } from '../src/index.js';
import { startRegistry } from '../test/containers/registry.js';
import { autogroupPriority, BenchShell, freshScratchDir } from './bench-env.js';
import { type LayerBlob, OciLayout, tarOf } from './oci-layout.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    layers: { type: 'string', default: 'usr/lib/x86_64-linux-gnu,usr/include,usr/lib/gcc' },
    top: { type: 'string', default: 'usr/lib/python3.11' },
    top2: { type: 'string', default: 'usr/lib/python3' },
    variants: { type: 'string', default: '5' },
    /** Seconds to wait before each shared-base tag (DAMON pages out memory idle for 60 s). */
    pause: { type: 'string', default: '0' },
    work: { type: 'string', default: '/tmp/tsw-dev-shared-base' },
    /** Work in /tmp itself (its flex group, as the benchmark did before freshScratchDir). */
    inTmp: { type: 'boolean', default: false },
    workers: { type: 'string', default: String(availableParallelism()) },
    /** Writes a main-thread .cpuprofile per shared-base tag into this directory. */
    profile: { type: 'string' },
    /** Writes every progress event (with its time stamp) as JSON lines. */
    events: { type: 'string' },
    /** Keeps the built image layout in this directory and reuses it in later runs (dev loops). */
    oci: { type: 'string' },
  },
});
const work = values.inTmp ? (values.work as string) : freshScratchDir(values.work as string);
const layout = (values.oci as string | undefined) ?? join(work, 'oci');
const tagsFile = join(layout, 'tags.json');

/** The tar of `dir` with `salt` appended to every regular file's content. */
function saltedTarOf(dir: string, salt: string): Readable {
  const ex = extract();
  const out = pack();
  const extra = Buffer.from(salt);
  ex.on('entry', (header, stream, next) => {
    if (header.type !== 'file') {
      stream.pipe(out.entry(header, next) as unknown as NodeJS.WritableStream);
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      const body = Buffer.concat([...chunks, extra]);
      out.entry({ ...header, size: body.length }, body, next);
    });
  });
  ex.on('finish', () => out.finalize());
  tarOf(dir).pipe(ex as unknown as NodeJS.WritableStream);
  const through = new PassThrough();
  out.pipe(through);
  return through;
}

// ---- measurements ----------------------------------------------------------------------------

interface ThreadSample {
  comm: string;
  runNs: number;
  waitNs: number;
  slices: number;
  vcsw: number;
  ivcsw: number;
}

function threads(pid: number | 'self'): Map<string, ThreadSample> {
  const out = new Map<string, ThreadSample>();
  const dir = `/proc/${pid}/task`;
  for (const tid of readdirSync(dir)) {
    try {
      const [run, wait, slices] = readFileSync(`${dir}/${tid}/schedstat`, 'utf8')
        .trim()
        .split(' ')
        .map(Number);
      const status = readFileSync(`${dir}/${tid}/status`, 'utf8');
      const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      out.set(tid, {
        comm: readFileSync(`${dir}/${tid}/comm`, 'utf8').trim(),
        runNs: run ?? 0,
        waitNs: wait ?? 0,
        slices: slices ?? 0,
        vcsw: field('voluntary_ctxt_switches'),
        ivcsw: field('nonvoluntary_ctxt_switches'),
      });
    } catch {
      // thread ended
    }
  }
  return out;
}

function vmstat(): Record<string, number> {
  const keys = [
    'pgmajfault',
    'pgpgin',
    'pgpgout',
    'pgfault',
    'pswpin',
    'workingset_refault_file',
    'workingset_refault_anon',
  ];
  const all = Object.fromEntries(
    readFileSync('/proc/vmstat', 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, v]) => [k as string, Number(v)]),
  );
  return Object.fromEntries(keys.map((k) => [k, all[k] ?? 0]));
}

function cpuTotals(): { user: number; system: number; idle: number; iowait: number; steal: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string)
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const j = (i: number) => (f[i] ?? 0) / 100;
  return { user: j(0) + j(1), system: j(2), idle: j(3), iowait: j(4), steal: j(7) };
}

function psi(kind: 'cpu' | 'io' | 'memory'): number {
  const m = /some .* total=(\d+)/.exec(readFileSync(`/proc/pressure/${kind}`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1e6;
}

function procFaults(pid: number | 'self'): { majflt: number; minflt: number; cpu: number } {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { minflt: Number(f[7]), majflt: Number(f[9]), cpu: (Number(f[11]) + Number(f[12])) / 100 };
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

async function measured<T>(
  label: string,
  registryPid: number,
  fn: () => Promise<T>,
  events: ProgressEvent[],
) {
  const t0 = threads('self');
  const v0 = vmstat();
  const c0 = cpuTotals();
  const p0 = { cpu: psi('cpu'), io: psi('io'), mem: psi('memory') };
  const f0 = procFaults('self');
  const r0 = procFaults(registryPid);
  const from = events.length;
  const start = process.hrtime.bigint();
  const result = await fn();
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const t1 = threads('self');
  const v1 = vmstat();
  const c1 = cpuTotals();
  const f1 = procFaults('self');
  const r1 = procFaults(registryPid);
  const phases: Record<string, number> = {};
  for (const e of events.slice(from))
    if ('seconds' in e && e.event !== 'image.end')
      phases[e.event] = round((phases[e.event] ?? 0) + e.seconds);
  const rows: string[] = [];
  let totalRun = 0;
  let totalWait = 0;
  for (const [tid, b] of t1) {
    const a = t0.get(tid) ?? { runNs: 0, waitNs: 0, slices: 0, vcsw: 0, ivcsw: 0 };
    const run = (b.runNs - a.runNs) / 1e9;
    const wait = (b.waitNs - a.waitNs) / 1e9;
    totalRun += run;
    totalWait += wait;
    if (run + wait < 0.02) continue;
    rows.push(
      `    ${tid.padStart(7)} ${b.comm.padEnd(16)} run ${run.toFixed(3)} wait ${wait.toFixed(3)} sleep ${(wall - run - wait).toFixed(3)} slices ${b.slices - a.slices} vcsw ${b.vcsw - a.vcsw} ivcsw ${b.ivcsw - a.ivcsw}`,
    );
  }
  const dv = Object.fromEntries(Object.entries(v1).map(([k, v]) => [k, v - (v0[k] ?? 0)]));
  process.stdout.write(
    [
      `${label}: ${round(wall, 3)} s  load ${loadavg()
        .map((l) => round(l))
        .join(' ')}  phases ${JSON.stringify(phases)}`,
      `  process run ${round(totalRun, 3)} wait-for-CPU ${round(totalWait, 3)}  majflt ${f1.majflt - f0.majflt} minflt ${f1.minflt - f0.minflt}  registry cpu ${round(r1.cpu - r0.cpu, 3)} majflt ${r1.majflt - r0.majflt}`,
      `  machine user ${round(c1.user - c0.user)} sys ${round(c1.system - c0.system)} idle ${round(c1.idle - c0.idle)} iowait ${round(c1.iowait - c0.iowait)} steal ${round(c1.steal - c0.steal)}  psi some cpu ${round(psi('cpu') - p0.cpu, 3)} io ${round(psi('io') - p0.io, 3)} mem ${round(psi('memory') - p0.mem, 3)}  vmstat ${JSON.stringify(dv)}`,
      ...rows,
    ].join('\n') + '\n',
  );
  return result;
}

async function main() {
  const n = Number(values.variants);
  // Commands run from a shell started now, while this process is small: see BenchShell.
  const shell = new BenchShell();
  process.stdout.write(`autogroup nice ${autogroupPriority() ?? '-'}\n`);
  if (values.inTmp) rmSync(work, { recursive: true, force: true });
  process.stdout.write(`work ${work}\n`);
  let tags: [string, { digest: string; size: number }][];
  if (values.oci && existsSync(tagsFile)) {
    tags = JSON.parse(readFileSync(tagsFile, 'utf8')) as typeof tags;
    process.stdout.write(`reusing the image layout in ${layout}\n`);
  } else {
    const oci = new OciLayout(layout);
    process.stdout.write('building layers…\n');
    const base: LayerBlob[] = [];
    for (const dir of (values.layers as string).split(',')) base.push(await oci.layer(tarOf(dir)));
    const top1 = await oci.layer(tarOf(values.top as string));
    tags = [['v1', oci.image([...base, top1])]];
    for (let i = 0; i < n; i++) {
      const top = await oci.layer(saltedTarOf(values.top2 as string, `\n# variant ${i} ${process.pid}\n`));
      tags.push([`s${i}`, oci.image([...base, top])]);
    }
    oci.writeIndex(tags);
    writeFileSync(tagsFile, JSON.stringify(tags));
  }
  const registry = await startRegistry({ dir: join(work, 'registry') });
  const registryPid = Number(
    execFileSync('pgrep', ['-n', '-f', `docker-registry serve ${join(work, 'registry')}`])
      .toString()
      .trim(),
  );
  try {
    for (const [tag] of tags)
      await shell.run([
        'skopeo',
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        `oci:${layout}:${tag}`,
        `docker://${registry.host}/bench/usr:${tag}`,
      ]);
    const repo = Repository.create('bench.containers.org', {
      ...DEFAULT_REPO_SETTINGS,
      workers: Number(values.workers),
      storageDir: join(work, 'srv'),
      stateDir: join(work, 'state'),
    });
    const config = defaultContainerConfig();
    const events: ProgressEvent[] = [];
    const convert = (tag: string, digest: string) => () =>
      convertImage(
        { reference: `${registry.host}/bench/usr:${tag}`, digest },
        { repo, config, onEvent: (e) => events.push(e) },
      );
    await shell.run(['sync']);
    const [, v1] = tags[0] as [string, { digest: string }];
    await measured('v1 (first ingest)', registryPid, convert('v1', v1.digest), events);
    for (const [tag, m] of tags.slice(1)) {
      await shell.run(['sync']);
      const pause = Number(values.pause);
      if (pause > 0) await sleep(pause * 1000);
      const session = values.profile ? new Session() : undefined;
      if (session) {
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        await session.post('Profiler.start');
      }
      process.stdout.write(
        `${tag} starts at ${(Date.now() / 1000).toFixed(3)} (monotonic ${(Number(process.hrtime.bigint()) / 1e9).toFixed(3)})\n`,
      );
      await measured(`${tag} (shared base)`, registryPid, convert(tag, m.digest), events);
      process.stdout.write(
        `${tag} ends at ${(Date.now() / 1000).toFixed(3)} (monotonic ${(Number(process.hrtime.bigint()) / 1e9).toFixed(3)})\n`,
      );
      if (session) {
        const { profile } = await session.post('Profiler.stop');
        mkdirSync(values.profile as string, { recursive: true });
        writeFileSync(join(values.profile as string, `${tag}.cpuprofile`), JSON.stringify(profile));
        session.disconnect();
      }
    }
    if (values.events)
      writeFileSync(values.events as string, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
  } finally {
    shell.close();
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
