// Swarm benchmark: how long a rollout of one image of S bytes to N hosts takes when every
// host's link (the origin's included) carries B in each direction. Each host is its own
// network namespace (see netns.ts). For N = 4, 8, 16, 32 and in the same run it measures
//   trustswarm  N tsw-agent daemons and the catalog server (approval, tracker, web seed)
//   http        N curl clients of one plain web server, as a single HTTP origin serves
//               (run up to --http-max-n; above it N·S/B, which is what one origin link gives)
//   aria2c      N aria2c clients of the same .torrent, tracker and web seed
// and compares each with the bound S/B. Writes swarm.json, swarm.md and swarm.svg.
//
// Usage (root): pnpm exec tsx test/bench/swarm/run.ts [--size-mib 512] [--rate-mbit 50]
//   [--n 4,8,16,32] [--methods trustswarm,http,aria2c] [--http-max-n 4] [--out DIR]
// The outer process builds the namespaces and always removes them; the measuring process
// runs inside the origin's namespace, so no benchmark traffic touches the host's network.

import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa, type ResultPromise } from 'execa';
import { installedAgentArgs, ROOT, stopAll } from '../../demo/lib/processes.js';
import { addImage, agentConfig, type Site, signAndPublish, startSite } from '../../demo/lib/site.js';
import { type CpuAccount, machineTimes, startCpuAccount } from './cpu-account.js';
import { createTopology, ipOf, type LinkCounters, linkCounters, nsOf, removeStale } from './netns.js';
import {
  type NetworkUse,
  percentile,
  type RoundResult,
  type Summary,
  summarize,
  writeReport,
} from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    /** 128 pieces of 4 MiB; 128 MiB (32 pieces) is below any VM image's count (test/README) */
    'size-mib': { type: 'string', default: '512' },
    'rate-mbit': { type: 'string', default: '50' },
    'http-max-n': { type: 'string', default: '4' },
    n: { type: 'string', default: '4,8,16,32' },
    methods: { type: 'string', default: 'trustswarm,http,aria2c' },
    out: { type: 'string', default: join(HERE, 'results') },
    inner: { type: 'boolean', default: false },
    /** the origin seeds as an ordinary seed instead of super-seeding (for comparison) */
    'plain-seed': { type: 'boolean', default: false },
    /** the origin seeder's upload slots (default: the catalog server's) */
    'origin-slots': { type: 'string' },
    /** JSON merged into the catalog server's `seeder` settings: '{"readBatchMs":0}' */
    'origin-seeder': { type: 'string' },
    /** JSON merged into every agent's `transfer` settings, for experiments: '{"uploadSlots":3}' */
    'agent-transfer': { type: 'string', default: '{}' },
    /** the agents' upload slot policy: cooperative (default) or tit-for-tat (for comparison) */
    choker: { type: 'string', default: 'cooperative' },
    /** every host's TCP congestion control (the hosts' distributions default to cubic) */
    'tcp-cc': { type: 'string', default: 'cubic' },
    /** a `key=value` sysctl for every host's namespace (repeatable), e.g. net.ipv4.tcp_notsent_lowat=65536 */
    sysctl: { type: 'string', multiple: true, default: [] },
    /** profiling: the first two agents of each round write V8 CPU profiles into DIR/hvK */
    'profile-dir': { type: 'string' },
    /** a node flag for every agent (repeatable), e.g. --perf-basic-prof for a `perf record` of the round */
    'agent-node-arg': { type: 'string', multiple: true },
    /** copy every client's log into OUT/logs-METHOD-N/ before the round's files are removed */
    'keep-logs': { type: 'boolean', default: false },
    /**
     * A/B inside one round: the even-numbered agents also get this node flag (repeatable); the
     * round's CPU account then reports both halves, which downloaded the same bytes in the same swarm.
     */
    'ab-node-arg': { type: 'string', multiple: true },
    /**
     * niceness of every client (agents, aria2c, curl) relative to the origin and this process: the
     * origin stands for a server of its own, which on this shared machine must not queue behind N
     * clients for the CPU (0: all equal)
     */
    'client-nice': { type: 'string', default: '5' },
    /** A/B inside one round: JSON merged into the even-numbered agents' `transfer` settings after --agent-transfer */
    'ab-agent-transfer': { type: 'string' },
  },
});
const SIZE_MIB = Number(values['size-mib']);
const RATE_MBIT = Number(values['rate-mbit']);
const CLIENT_NICE = Number(values['client-nice']);
if (!(Number.isInteger(CLIENT_NICE) && CLIENT_NICE >= 0 && CLIENT_NICE <= 19))
  throw new Error(`--client-nice must be an integer 0..19, got ${values['client-nice']}`);
/** A JSON object option, parsed before any namespace is built. */
function jsonOption(name: 'origin-seeder' | 'agent-transfer' | 'ab-agent-transfer'): object {
  const text = values[name] ?? '{}';
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  } catch {}
  throw new Error(`--${name} must be a JSON object, got ${text}`);
}
const ORIGIN_SEEDER = jsonOption('origin-seeder');
const AGENT_TRANSFER = jsonOption('agent-transfer');
const AB_AGENT_TRANSFER = jsonOption('ab-agent-transfer');
const NS = (values.n ?? '').split(',').map(Number);
const METHODS = (values.methods ?? '').split(',');
const MAX_N = Math.max(...NS);
/** A single origin needs N·S/B by construction; above this N it is computed, not run. */
const HTTP_MAX_N = Number(values['http-max-n']);
const BOUND_S = (SIZE_MIB * 1024 * 1024 * 8) / (RATE_MBIT * 1e6);
const log = (text: string) => console.log(`[swarm] ${text}`);

async function outer(): Promise<void> {
  if (!Number.isFinite(BOUND_S) || NS.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error('--size-mib, --rate-mbit and --n need positive numbers');
  }
  for (const tool of ['ip', 'tc', 'curl', 'aria2c']) {
    const r = await execa('sh', ['-c', `command -v ${tool}`], { reject: false });
    if (r.exitCode !== 0) throw new Error(`${tool} is missing (iproute2, curl, aria2 from Debian)`);
  }
  const sysctls = values.sysctl ?? [];
  log(
    `building ${MAX_N + 1} namespaces, every link ${RATE_MBIT} Mbit/s each way, TCP ${values['tcp-cc']}` +
      (sysctls.length ? `, ${sysctls.join(' ')}` : ''),
  );
  const topology = await createTopology(MAX_N + 1, RATE_MBIT, values['tcp-cc'], sysctls);
  const cleanup = async () => {
    await topology.destroy();
    await removeStale();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));
  try {
    const args = process.argv.slice(2).filter((a) => a !== '--inner');
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    const r = await execa(
      'ip',
      [
        'netns',
        'exec',
        nsOf(0),
        tsx,
        '--conditions=@trustswarm/source',
        fileURLToPath(import.meta.url),
        '--inner',
        ...args,
      ],
      { stdio: 'inherit', reject: false },
    );
    if (r.exitCode !== 0) throw new Error(`the measuring process failed (exit ${r.exitCode})`);
  } finally {
    await cleanup();
  }
}

async function inner(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-swarm-'));
  const rounds: RoundResult[] = [];
  await mkdir(values.out as string, { recursive: true });
  try {
    log(
      `origin ${ipOf(0)}: catalog server, test PKI, endorser; S = ${SIZE_MIB} MiB, S/B = ${BOUND_S.toFixed(2)} s`,
    );
    const site = await startSite(join(dir, 'site'), {
      name: 'BENCH',
      threshold: 1,
      serverHost: ipOf(0),
      serverConfig: {
        seeder: {
          superSeed: !values['plain-seed'],
          ...(values['origin-slots'] ? { uploadSlots: Number(values['origin-slots']) } : {}),
          // any other seeder setting of the catalog server, e.g. '{"readBatchMs":0}'
          ...ORIGIN_SEEDER,
        },
      },
    });
    await site.endorse(site.pki.endorsers.alice, ['catalog', 'new', 'bench']);
    for (const n of NS) {
      for (const method of METHODS) {
        if (method === 'http' && n > HTTP_MAX_N) {
          const t = n * BOUND_S;
          rounds.push({ method, n, completions: Array(n).fill(t), failed: 0, computed: true });
          log(`http, N = ${n}: not run, N·S/B = ${t.toFixed(1)} s`);
          continue;
        }
        const roundDir = join(dir, `${method}-${n}`);
        await mkdir(roundDir, { recursive: true });
        const load = loadavg()[0]?.toFixed(1);
        log(`${method}, N = ${n} (load ${load})`);
        const originBefore = await originCounters(site);
        const hosts = Array.from({ length: n }, (_, k) => k + 1);
        const linksBefore = await Promise.all(hosts.map(linkCounters));
        const roundStart = nowSeconds();
        const result =
          method === 'trustswarm'
            ? await trustswarmRound(site, n, roundDir)
            : method === 'http'
              ? await httpRound(n, roundDir)
              : method === 'aria2c'
                ? await aria2Round(site, n, roundDir)
                : undefined;
        if (!result) throw new Error(`unknown method ${method}`);
        result.network = networkUse(
          linksBefore,
          await Promise.all(hosts.map(linkCounters)),
          Math.max(...result.completions, 0) || nowSeconds() - roundStart,
        );
        // What left the origin (seeder + web seed) per image delivered: 1.0 is ideal.
        const originAfter = await originCounters(site);
        if (method !== 'http') {
          result.originCopies = originAfter.sent - originBefore.sent;
          result.originRepeats = (originAfter.repeats - originBefore.repeats) / (SIZE_MIB * 1024 * 1024);
        } else result.originCopies = n * SIZE_MIB * 1024 * 1024;
        result.originCopies /= SIZE_MIB * 1024 * 1024;
        const s = summarize(result, BOUND_S);
        const net = result.network;
        log(
          `  links: upload ${(net.uploadBusy * 100).toFixed(0)} %, download ${(net.downloadBusy * 100).toFixed(0)} % busy until the last client finished; ${(net.retransmitted * 100).toFixed(1)} % of TCP segments retransmitted, ${net.drops} packets dropped`,
        );
        log(
          `  origin sent ${result.originCopies.toFixed(2)} × S${result.originRepeats !== undefined ? ` (blocks sent before: ${result.originRepeats.toFixed(2)} × S)` : ''};  p50 ${s.p50.toFixed(2)} s  p99 ${s.p99.toFixed(2)} s  max ${s.max.toFixed(2)} s  p99/(S/B) ${s.p99OverBound.toFixed(2)}${result.failed ? `  FAILED ${result.failed}` : ''}`,
        );
        if (result.cpu) log(`  ${describeCpu(result.cpu, n * SIZE_MIB * 1024 * 1024)}`);
        rounds.push(result);
        if (values['keep-logs'])
          await keepAgentLogs(roundDir, join(values.out as string, `logs-${method}-${n}`));
        await rm(roundDir, { recursive: true, force: true });
      }
    }
    const summaries: Summary[] = rounds.map((r) => summarize(r, BOUND_S));
    await mkdir(values.out as string, { recursive: true });
    const meta = {
      date: new Date().toISOString(),
      sizeMiB: SIZE_MIB,
      rateMbit: RATE_MBIT,
      tcpCc: values['tcp-cc'],
      sysctls: values.sysctl ?? [],
      boundSeconds: Number(BOUND_S.toFixed(3)),
      cpus: cpus().length,
      loadAverageAtEnd: loadavg().map((l) => Number(l.toFixed(2))),
      methods: {
        trustswarm:
          'tsw-agent daemons (tracker + PEX, DHT off, cooperative choker, web seed only after 30 s stalled), the catalog server as super-seeding origin',
        http: 'curl clients of one node:http static server on the origin',
        aria2c:
          'aria2c clients of the same .torrent (tracker + PEX + the web seed in it), catalog server as origin',
      },
      completion: 'seconds from the start signal to the complete file (agents: after sha256 and install)',
    };
    const files = await writeReport(values.out as string, meta, summaries, rounds, BOUND_S);
    log(`wrote ${files.join(', ')}`);
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Bytes the catalog server sent as origin so far (BitTorrent seeder plus web seed) and, of the
 * seeder's, those repeating blocks it had already sent to some agent.
 */
async function originCounters(site: Site): Promise<{ sent: number; repeats: number }> {
  const text = await (await fetch(`${site.server.url}/metrics`)).text();
  const metric = (name: string): number => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return {
    sent: metric('tsw_catalog_seeder_uploaded_bytes') + metric('tsw_catalog_origin_bytes_total'),
    repeats: metric('tsw_catalog_seeder_repeat_bytes'),
  };
}

/** Runs a client's command inside host i's namespace, at the clients' niceness (--client-nice). */
function inHost(i: number, cmd: string, args: string[], opts: { log?: string } = {}): ResultPromise {
  const out = opts.log ? { file: opts.log, append: true } : 'ignore';
  const nice = CLIENT_NICE > 0 ? ['nice', '-n', String(CLIENT_NICE)] : [];
  return execa('ip', ['netns', 'exec', nsOf(i), ...nice, cmd, ...args], {
    reject: false,
    stdout: out,
    stderr: out,
    stdin: 'ignore',
  });
}

const nowSeconds = () => Date.now() / 1000;

/** Reads "seconds since epoch" written by `date +%s.%N` into each file; undefined while missing. */
async function doneTimes(files: string[]): Promise<(number | undefined)[]> {
  return Promise.all(
    files.map(async (f) =>
      existsSync(f) ? Number((await readFile(f, 'utf8')).trim()) || undefined : undefined,
    ),
  );
}

async function waitDone(files: string[], timeoutS: number): Promise<(number | undefined)[]> {
  const deadline = nowSeconds() + timeoutS;
  for (;;) {
    const times = await doneTimes(files);
    if (times.every((t) => t !== undefined) || nowSeconds() > deadline) return times;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function toResult(method: string, n: number, start: number, times: (number | undefined)[]): RoundResult {
  const completions = times.filter((t): t is number => t !== undefined).map((t) => t - start);
  return { method, n, completions, failed: times.length - completions.length };
}

/** A method that needs longer than this has failed the round (clients still running count as failed). */
const roundTimeout = (_n: number) => Math.max(120, 8 * BOUND_S);
/** One origin link needs n·S/B by construction. */
const httpTimeout = (n: number) => Math.max(120, 1.5 * n * BOUND_S);

interface AgentStatus {
  approval: { version: number } | null;
  transfers: Array<{
    progress: number;
    downloadBytesPerSecond: number;
    uploadBytesPerSecond: number;
    uploadedBytes: number;
    conns: number;
    unchoked: number;
    peers?: Array<{
      address: string;
      progress: number;
      amChoking: boolean;
      peerInterested: boolean;
      peerChoking: boolean;
      amInterested: boolean;
      downloadBytesPerSecond: number;
      uploadBytesPerSecond: number;
      requestsOut: number;
      requestsIn: number;
      piecesWanted: number;
      piecesRequestable: number;
    }>;
  }>;
}

async function statusOf(socketPath: string): Promise<AgentStatus | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/status' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve(res.statusCode === 200 ? JSON.parse(body) : undefined));
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** A fresh image entry published (not yet approved); earlier rounds' entries removed and revoked. */
async function publishFreshImage(
  site: Site,
  roundDir: string,
): Promise<{ entryId: string; infoHash: string }> {
  const { alice } = site.pki.endorsers;
  const before = await site.catalog();
  for (const e of before.entries) await site.endorse(alice, ['catalog', 'remove', e.id]);
  await addImage(site, join(roundDir, 'image.qcow2'), SIZE_MIB * 1024 * 1024, `bench-${Date.now()}`);
  const catalog = await signAndPublish(site, [alice]);
  for (const e of before.entries) await site.revoke(catalog, e.id).catch(() => undefined);
  await rm(join(roundDir, 'image.qcow2'));
  const entry = catalog.entries[0];
  if (!entry) throw new Error('catalog has no entry');
  const shown = JSON.parse(await site.endorse(alice, ['--json', 'catalog', 'show'])) as {
    catalog: { entries: Array<{ id: string; artifact: { infoHash: string } }> };
  };
  const infoHash = shown.catalog.entries.find((e) => e.id === entry.id)?.artifact.infoHash;
  if (!infoHash) throw new Error('entry without info hash');
  return { entryId: entry.id, infoHash };
}

async function trustswarmRound(site: Site, n: number, roundDir: string): Promise<RoundResult> {
  const { entryId } = await publishFreshImage(site, roundDir);
  await site.signApproval();
  const agents: ResultPromise[] = [];
  const doneFiles: string[] = [];
  const sockets: string[] = [];
  for (let i = 1; i <= n; i++) {
    const dataDir = join(roundDir, `hv${i}`);
    await mkdir(dataDir, { recursive: true });
    const done = join(dataDir, 'done');
    const socket = join(dataDir, 'api.sock');
    const config = agentConfig(site, `hv${i}`, {
      dataDir,
      api: { listen: `unix:${socket}` },
      poll: { intervalSeconds: 0.5, retrySeconds: 0.5, timeoutSeconds: 10 },
      transfer: {
        listenAddress: ipOf(i), // the host's own link, as on a hypervisor
        webSeed: { enabled: true, delaySeconds: 300, noPeerGraceSeconds: 30 },
        choker: values.choker,
        ...AGENT_TRANSFER,
        ...(i % 2 === 0 ? AB_AGENT_TRANSFER : {}),
      },
      hooks: { available: [['sh', '-c', `date +%s.%N > ${done}`]] },
      log: { level: 'info' },
    });
    const configPath = join(dataDir, 'agent.yaml');
    await writeFile(configPath, JSON.stringify(config));
    const profile = values['profile-dir'] && i <= 2 ? join(values['profile-dir'], `n${n}-hv${i}`) : undefined;
    const profiling = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
    const nodeArgs = [
      ...(values['agent-node-arg'] ?? []),
      ...(i % 2 === 0 ? (values['ab-node-arg'] ?? []) : []),
    ];
    agents.push(
      inHost(i, 'node', [...profiling, ...nodeArgs, ...installedAgentArgs(), 'run', '--config', configPath], {
        log: join(dataDir, 'agent.log'),
      }),
    );
    doneFiles.push(done);
    sockets.push(socket);
  }
  try {
    // Every agent is up and has verified the current approval before the entry is approved.
    const current = await Promise.all(sockets.map((s) => waitFor(() => statusOf(s), 60)));
    const version = Math.max(...current.map((s) => s?.approval?.version ?? 0));
    await Promise.all(
      sockets.map((s) =>
        waitFor(async () => ((await statusOf(s))?.approval?.version ?? 0) >= version || undefined, 60),
      ),
    );
    const catalog = await site.catalog(); // the admin's view, read before the clock starts
    const start = nowSeconds();
    await site.approve(catalog, entryId);
    const approved = nowSeconds();
    await site.signApproval();
    log(
      `  approved after ${(approved - start).toFixed(2)} s, approval signed after ${(nowSeconds() - start).toFixed(2)} s`,
    );
    const sampling = sampleTimeline(site, sockets, start);
    const pids = agents.map((a) => a.pid);
    const halves: Record<string, Array<number | undefined>> = values['ab-node-arg']?.length ||
    values['ab-agent-transfer']
      ? {
          'agents A (odd)': pids.filter((_, k) => k % 2 === 0),
          'agents B (even)': pids.filter((_, k) => k % 2 === 1),
        }
      : {};
    const account = await startCpuAccount({ agents: pids, origin: [site.server.pid], ...halves });
    const times = await waitDone(doneFiles, roundTimeout(n));
    const cpu = await account.stop();
    const timeline = await sampling.stop();
    await writeFile(join(values.out as string, `timeline-trustswarm-${n}.json`), JSON.stringify(timeline));
    logTimeline(timeline);
    const phases = await agentPhases(roundDir, n, start);
    log(
      `  median seconds after the approval: ${Object.entries(phases)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}`,
    );
    return { ...toResult('trustswarm', n, start, times), phases, cpu };
  } finally {
    for (const a of agents) a.kill('SIGTERM');
    await Promise.all(agents);
  }
}

interface TimelineSample {
  t: number;
  originBytes: number;
  /** of those, the seeder's bytes repeating blocks it had sent before */
  originRepeatBytes: number;
  /** the machine's busy CPU seconds so far (all cores) */
  cpuBusy: number;
  cpuTotal: number;
  /** per agent: how long its status API took to answer (ms): its event loop's lag, roughly */
  statusMs: number[];
  /** per agent: [progress, download B/s, upload B/s, uploaded bytes, conns, unchoked] */
  agents: Array<[number, number, number, number, number, number] | null>;
  /** per agent, per peer: "address progress% UIui down/up kB/s rOUT/IN": we unchoke (U) or
   *  choke (c) it, it is interested (I); it unchokes (u) or chokes (c) us, we are interested (i);
   *  rates; block requests in flight each way; pieces it holds that we lack / of those with
   *  blocks nobody was asked for yet ("w4/1") */
  peers: string[][];
}

/**
 * Samples every agent's transfer and the origin's sent bytes once a second, so a slow round
 * shows where capacity went unused (origin link busy, agent uplinks idle, ...).
 */
function sampleTimeline(site: Site, sockets: string[], start: number) {
  const samples: TimelineSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const [originSent, statuses, cpu] = await Promise.all([
        originCounters(site).catch(() => ({ sent: Number.NaN, repeats: Number.NaN })),
        Promise.all(
          sockets.map(async (s) => {
            const asked = performance.now();
            const st = await statusOf(s);
            return { st, ms: performance.now() - asked };
          }),
        ),
        machineTimes(),
      ]);
      samples.push({
        t: Number((nowSeconds() - start).toFixed(2)),
        originBytes: originSent.sent,
        originRepeatBytes: originSent.repeats,
        cpuBusy: cpu.busy,
        cpuTotal: cpu.total,
        statusMs: statuses.map((r) => Math.round(r.ms)),
        peers: statuses.map(({ st }) =>
          (st?.transfers[0]?.peers ?? []).map(
            (p) =>
              `${p.address} ${Math.round(p.progress * 100)}% ${p.amChoking ? 'c' : 'U'}${p.peerInterested ? 'I' : '-'}${p.peerChoking ? 'c' : 'u'}${p.amInterested ? 'i' : '-'} ${Math.round(p.downloadBytesPerSecond / 1000)}/${Math.round(p.uploadBytesPerSecond / 1000)} r${p.requestsOut}/${p.requestsIn} w${p.piecesWanted}/${p.piecesRequestable}`,
          ),
        ),
        agents: statuses.map(({ st }) => {
          const tr = st?.transfers[0];
          return tr
            ? [
                Number(tr.progress.toFixed(3)),
                Math.round(tr.downloadBytesPerSecond),
                Math.round(tr.uploadBytesPerSecond),
                tr.uploadedBytes,
                tr.conns,
                tr.unchoked,
              ]
            : null;
        }),
      });
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** How busy the clients' links were over `seconds` (the round until its last client finished). */
function networkUse(before: LinkCounters[], after: LinkCounters[], seconds: number): NetworkUse {
  const sum = (f: (c: LinkCounters) => number) =>
    after.reduce((acc, c, k) => acc + f(c) - f(before[k] as LinkCounters), 0);
  const capacity = (RATE_MBIT * 1e6 * seconds * after.length) / 8;
  const out = sum((c) => c.tcpOutSegs);
  return {
    uploadBusy: sum((c) => c.upBytes) / capacity,
    downloadBusy: sum((c) => c.downBytes) / capacity,
    retransmitted: out > 0 ? sum((c) => c.tcpRetransSegs) / out : 0,
    drops: sum((c) => c.upDrops + c.downDrops),
  };
}

/** The machine's CPU time so far (all cores, seconds): busy and in total, from /proc/stat. */

/** Copies the round's per-host logs (`hvK/agent.log` and the like) into `dest`. */
async function keepAgentLogs(roundDir: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const host of await readdir(roundDir).catch(() => [] as string[])) {
    for (const file of await readdir(join(roundDir, host)).catch(() => [] as string[]))
      if (file.endsWith('.log')) await copyFile(join(roundDir, host, file), join(dest, `${host}-${file}`));
  }
}

/** "CPU over the round: …": where the two cores went, and the clients' cost per GiB received. */
function describeCpu(cpu: CpuAccount, bytesReceived: number): string {
  const gib = bytesReceived / 2 ** 30;
  const m = cpu.machine;
  const named = (cpu.processes.agents ?? cpu.processes.clients ?? 0) + (cpu.processes.origin ?? 0);
  const parts = Object.entries(cpu.processes).map(([k, v]) => `${k} ${v.toFixed(1)} s`);
  const clients = cpu.processes.agents ?? cpu.processes.clients ?? 0;
  const d = cpu.detail.agents ?? cpu.detail.clients;
  // the clients' split and how often their main threads slept and woke, per MiB received
  const split = d
    ? ` (user ${(d.user / gib).toFixed(2)}, system ${(d.system / gib).toFixed(2)}); main-thread wake-ups ${(d.voluntary / (gib * 1024)).toFixed(1)} per MiB received, preempted ${(d.involuntary / (gib * 1024)).toFixed(1)}`
    : '';
  return `CPU over ${cpu.seconds.toFixed(0)} s: machine busy ${m.busy.toFixed(1)} s (${((100 * m.busy) / (cpu.seconds * cpus().length)).toFixed(0)} %; user ${m.user.toFixed(1)}, system ${m.system.toFixed(1)}, softirq ${m.softirq.toFixed(1)}); ${parts.join(', ')}, rest ${(m.busy - named).toFixed(1)} s; clients ${(clients / gib).toFixed(2)} s per GiB received${split}`;
}

/** One line per ~5 s: origin rate and the agents' mean download and upload rates (Mbit/s). */
function logTimeline(samples: TimelineSample[]): void {
  const mbit = (bytesPerSecond: number) => ((bytesPerSecond * 8) / 1e6).toFixed(1);
  let last: TimelineSample | undefined;
  for (const s of samples) {
    if (last && s.t - last.t < 5) continue;
    const active = s.agents.filter((a): a is NonNullable<typeof a> => a !== null);
    const mean = (k: number) => active.reduce((sum, a) => sum + (a[k] ?? 0), 0) / Math.max(1, active.length);
    const originRate = last ? (s.originBytes - last.originBytes) / (s.t - last.t) : 0;
    const repeatRate = last ? (s.originRepeatBytes - last.originRepeatBytes) / (s.t - last.t) : 0;
    const cpu = last ? (100 * (s.cpuBusy - last.cpuBusy)) / Math.max(0.01, s.cpuTotal - last.cpuTotal) : 0;
    log(
      `  t=${s.t.toFixed(0).padStart(4)} s origin ${mbit(originRate)} Mbit/s (repeats ${mbit(repeatRate)}); agents: ${active.length} active, progress ${(mean(0) * 100).toFixed(0)}%, down ${mbit(mean(1))}, up ${mbit(mean(2))} Mbit/s, conns ${mean(4).toFixed(1)}, unchoked ${mean(5).toFixed(1)}; CPU ${cpu.toFixed(0)} % busy; status answered in ${percentile(
        [...s.statusMs].sort((a, b) => a - b),
        50,
      ).toFixed(0)}/${Math.max(0, ...s.statusMs)} ms (median/max)`,
    );
    last = s;
  }
}

/** Medians over the agents of when each step happened (from their logs), in seconds after start. */
async function agentPhases(roundDir: string, n: number, start: number): Promise<Record<string, number>> {
  const steps = ['approval updated', 'download started', 'web seed enabled', 'installed'];
  const seen = new Map<string, number[]>(steps.map((m) => [m, []]));
  for (let i = 1; i <= n; i++) {
    const text = await readFile(join(roundDir, `hv${i}`, 'agent.log'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      const rec = JSON.parse(line) as { msg?: string; time?: number };
      const times = rec.msg ? seen.get(rec.msg) : undefined;
      if (times && rec.time && rec.time / 1000 >= start) times.push(rec.time / 1000 - start);
    }
  }
  const phases: Record<string, number> = {};
  for (const [step, times] of seen)
    if (times.length)
      phases[step] = percentile(
        times.sort((a, b) => a - b),
        50,
      );
  return phases;
}

async function httpRound(n: number, roundDir: string): Promise<RoundResult> {
  const file = join(roundDir, 'image.qcow2');
  await execa('sh', ['-c', `head -c ${SIZE_MIB * 1024 * 1024} /dev/urandom > ${file}`]);
  const { size } = await stat(file);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, ipOf(0), resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const start = nowSeconds();
    const clients = Array.from({ length: n }, (_, k) => {
      const out = join(roundDir, `c${k + 1}`);
      const script = `curl -sf -o ${out}.bin http://${ipOf(0)}:${port}/image && date +%s.%N > ${out}.done`;
      return inHost(k + 1, 'sh', ['-c', script]);
    });
    const times = await waitDone(
      clients.map((_, k) => join(roundDir, `c${k + 1}.done`)),
      httpTimeout(n),
    );
    for (const c of clients) c.kill('SIGKILL');
    await Promise.all(clients);
    return toResult('http', n, start, times);
  } finally {
    server.close();
  }
}

async function aria2Round(site: Site, n: number, roundDir: string): Promise<RoundResult> {
  // The same kind of .torrent as the agents get (tracker and web seed of the catalog server).
  const { infoHash } = await publishFreshImage(site, roundDir);
  const torrentPath = join(roundDir, 'image.torrent');
  const res = await fetch(`${site.server.url}/torrents/${infoHash}.torrent`);
  if (!res.ok) throw new Error(`torrent ${infoHash}: HTTP ${res.status}`);
  await writeFile(torrentPath, Buffer.from(await res.arrayBuffer()));
  const hook = join(roundDir, 'done.sh');
  await writeFile(hook, '#!/bin/sh\ndate +%s.%N > "$3.done"\n', { mode: 0o755 });
  const start = nowSeconds();
  const clients = Array.from({ length: n }, (_, k) => {
    const clientDir = join(roundDir, `a${k + 1}`);
    return inHost(
      k + 1,
      'aria2c',
      [
        `--dir=${clientDir}`,
        '--seed-time=3600',
        '--enable-dht=false',
        '--enable-dht6=false',
        '--bt-enable-lpd=false',
        '--enable-peer-exchange=true',
        '--listen-port=6881',
        '--file-allocation=none',
        '--summary-interval=0',
        '--console-log-level=warn',
        `--on-bt-download-complete=${hook}`,
        torrentPath,
      ],
      { log: join(roundDir, `a${k + 1}.log`) },
    );
  });
  const account = await startCpuAccount({ clients: clients.map((c) => c.pid), origin: [site.server.pid] });
  const files = await waitForFileNames(roundDir, n);
  const times = await waitDone(files, roundTimeout(n));
  const cpu = await account.stop();
  for (const c of clients) c.kill('SIGKILL');
  await Promise.all(clients);
  return { ...toResult('aria2c', n, start, times), cpu };
}

/** aria2c names the file after the torrent; the hook writes "<file>.done" beside it. */
async function waitForFileNames(roundDir: string, n: number): Promise<string[]> {
  const torrent = await readFile(join(roundDir, 'image.torrent'));
  const name = /4:name(\d+):/.exec(torrent.toString('latin1'));
  const start = name ? (name.index ?? 0) + name[0].length : -1;
  const fileName = name ? torrent.subarray(start, start + Number(name[1])).toString('utf8') : 'image.qcow2';
  return Array.from({ length: n }, (_, k) => join(roundDir, `a${k + 1}`, `${fileName}.done`));
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutS: number): Promise<T> {
  const deadline = nowSeconds() + timeoutS;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (nowSeconds() > deadline) throw new Error('timed out waiting for the agents to start');
    await new Promise((r) => setTimeout(r, 200));
  }
}

if (!values.inner) await outer();
else await inner();
