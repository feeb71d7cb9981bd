// What TCP itself gets out of the swarm benchmark's network: the same namespaces, tbf links and
// congestion control as run.ts, but every host sends from memory without end (no pieces, no
// requests, no disk). Host i of 1..N sends to the K hosts after it (so each link carries K flows
// up and K down, as agents' unchoked peers do) and the origin (host 0) sends to `--origin-flows`
// of them. Prints how busy the clients' links were: the share of B a BitTorrent swarm could at
// best use on these links, the reference for the swarm rounds' "links busy" figures.
//
//   sudo pnpm exec tsx test/bench/swarm/tcp-mesh.ts [--n 16] [--k 1,2,5,9] [--rate-mbit 50] \
//       [--origin-flows 8] [--seconds 30] [--tcp-cc cubic] [--read-hold-ms 0] [--both-ways] [--write-bytes N] [--out FILE]

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { execa, type ResultPromise } from 'execa';
import { createTopology, ipOf, nsOf, removeStale, tcpSegments } from './netns.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '16' },
    k: { type: 'string', default: '1,2,5,9' },
    'rate-mbit': { type: 'string', default: '50' },
    'origin-flows': { type: 'string', default: '8' },
    seconds: { type: 'string', default: '30' },
    'warmup-seconds': { type: 'string', default: '10' },
    'tcp-cc': { type: 'string', default: 'cubic' },
    /** receivers stop reading this long after a short read, as the agents' read batching */
    'read-hold-ms': { type: 'string', default: '0' },
    /** every connection carries data both ways (each end uploads to the other), as in a swarm */
    'both-ways': { type: 'boolean', default: false },
    /** bytes per socket write (16397: one block message, as an agent answering requests) */
    'write-bytes': { type: 'string', default: String(1 << 20) },
    out: { type: 'string' },
  },
});
const N = Number(values.n);
const KS = values.k.split(',').map(Number);
const RATE_MBIT = Number(values['rate-mbit']);
const ORIGIN_FLOWS = Number(values['origin-flows']);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values['warmup-seconds']);
const HOLD_MS = Number(values['read-hold-ms']);
const BOTH_WAYS = values['both-ways'] ?? false;
const WRITE_BYTES = Number(values['write-bytes']);
const PORT = 7000;
const log = (text: string) => console.log(`[tcp-mesh] ${text}`);

// One process per host: a server that discards what it reads, and one connection per target
// kept full with writes of `--write-bytes` (1 MiB; Nagle off, as the agents' sockets).
const HOST_SCRIPT = `
const net = require('node:net');
const [self, port, holdMs, both, origin, writeBytes, ...targets] = process.argv.slice(1);
// As the agents' read batching: after a short read the socket stops reading for holdMs.
const hold = (s) => (chunk) => {
  if (Number(holdMs) > 0 && chunk.length < 32768 && s._handle && s._handle.reading) {
    s._handle.readStop();
    setTimeout(() => { if (s._handle && s._handle.reading) s._handle.readStart(); }, Number(holdMs));
  }
};
const buf = Buffer.alloc(Number(writeBytes), 7);
const fill = (c) => {
  const pump = () => { while (c.write(buf)); };
  c.on('drain', pump);
  return pump;
};
// both = 1: the accepting end sends too, so every connection between clients carries data both
// ways, as a BitTorrent connection between two peers that each upload to the other.
net.createServer((s) => {
  s.setNoDelay(true);
  s.on('data', hold(s));
  s.on('error', () => {});
  if (both === '1' && s.remoteAddress !== origin) fill(s)(); // the origin only uploads
}).listen(Number(port), self);
setTimeout(() => {
  for (const t of targets) {
    const c = net.connect({ host: t, port: Number(port), localAddress: self });
    c.setNoDelay(true);
    c.on('data', hold(c));
    c.on('connect', fill(c));
    c.on('error', () => {});
  }
}, 1000);
`;

function startHost(i: number, targets: number[]): ResultPromise {
  const args = ['netns', 'exec', nsOf(i), 'node', '-e', HOST_SCRIPT, ipOf(i), String(PORT), String(HOLD_MS)];
  args.push(BOTH_WAYS ? '1' : '0', ipOf(0), String(WRITE_BYTES));
  return execa('ip', [...args, ...targets.map(ipOf)], { reject: false });
}

interface HostCounters {
  tx: number;
  rx: number;
  outSegs: number;
  retransSegs: number;
}

/**
 * Every host's eth0 bytes (its NIC's, both ways) and TCP segment counters, read by one shell
 * so that the reading takes milliseconds, not the seconds that one process per host takes on
 * a busy machine; `at` is the reading's midpoint.
 */
async function readCounters(hosts: number[]): Promise<{ at: number; hosts: HostCounters[] }> {
  const script = hosts
    .map((i) => `echo ==; ip netns exec ${nsOf(i)} sh -c 'cat /proc/net/dev /proc/net/snmp'`)
    .join('; ');
  const t0 = performance.now();
  const r = await execa('sh', ['-c', script]);
  const at = (t0 + performance.now()) / 2000;
  return {
    at,
    hosts: String(r.stdout)
      .split('==\n')
      .slice(1)
      .map((text) => {
        const lines = text.split('\n');
        const dev = (lines.find((l) => l.trim().startsWith('eth0:')) ?? '')
          .split(':')[1]
          ?.trim()
          .split(/\s+/);
        return { rx: Number(dev?.[0] ?? 0), tx: Number(dev?.[8] ?? 0), ...tcpSegments(text) };
      }),
  };
}

const sleep = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));

interface Variant {
  k: number;
  uploadBusy: number;
  downloadBusy: number;
  uploadBusyMin: number;
  downloadBusyMin: number;
  originBusy: number;
  retransmitted: number;
}

async function measure(k: number): Promise<Variant> {
  const clients = Array.from({ length: N }, (_, j) => j + 1);
  const procs = clients.map((i) =>
    startHost(
      i,
      Array.from({ length: k }, (_, d) => ((i - 1 + d + 1) % N) + 1),
    ),
  );
  // The origin feeds ORIGIN_FLOWS clients spread over the ring, as its upload slots do.
  const originTargets = Array.from(
    { length: Math.min(ORIGIN_FLOWS, N) },
    (_, d) => Math.floor((d * N) / Math.min(ORIGIN_FLOWS, N)) + 1,
  );
  procs.push(startHost(0, originTargets));
  try {
    await sleep(WARMUP);
    const hosts = [0, ...clients];
    const before = await readCounters(hosts);
    await sleep(SECONDS);
    const after = await readCounters(hosts);
    const capacity = (RATE_MBIT * 1e6 * (after.at - before.at)) / 8;
    const delta = (f: (c: HostCounters) => number) =>
      after.hosts.map((c, j) => f(c) - f(before.hosts[j] as HostCounters));
    const up = delta((c) => c.tx).map((b) => b / capacity);
    const down = delta((c) => c.rx).map((b) => b / capacity);
    const [originUp = 0, ...clientsUp] = up;
    const clientsDown = down.slice(1);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return {
      k,
      uploadBusy: mean(clientsUp),
      downloadBusy: mean(clientsDown),
      uploadBusyMin: Math.min(...clientsUp),
      downloadBusyMin: Math.min(...clientsDown),
      originBusy: originUp,
      retransmitted: sum(delta((c) => c.retransSegs)) / Math.max(1, sum(delta((c) => c.outSegs))),
    };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('tcp-mesh needs root (network namespaces)');
  if (!(N > 1) || KS.some((k) => !(k >= 1 && k < N))) throw new Error('--n > 1 and every --k in 1..n-1');
  await removeStale();
  log(`${N + 1} namespaces, every link ${RATE_MBIT} Mbit/s each way, TCP ${values['tcp-cc']}`);
  const topology = await createTopology(N + 1, RATE_MBIT, values['tcp-cc']);
  const results: Variant[] = [];
  try {
    for (const k of KS) {
      const v = await measure(k);
      results.push(v);
      log(
        `K = ${k} flows up and down per client link (+ origin to ${ORIGIN_FLOWS}): clients' links ` +
          `upload ${(v.uploadBusy * 100).toFixed(0)} % (min ${(v.uploadBusyMin * 100).toFixed(0)}), ` +
          `download ${(v.downloadBusy * 100).toFixed(0)} % (min ${(v.downloadBusyMin * 100).toFixed(0)}) busy; ` +
          `origin ${(v.originBusy * 100).toFixed(0)} %; ${(v.retransmitted * 100).toFixed(1)} % of segments retransmitted`,
      );
    }
  } finally {
    await topology.destroy();
  }
  if (values.out) {
    const report = { benchmark: 'tcp-mesh', n: N, rateMbit: RATE_MBIT, seconds: SECONDS, results };
    await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${values.out}`);
  }
}

main().catch((err) => {
  console.error(`tcp-mesh: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
