// A private test network for the swarm benchmark: one namespace per host, each joined to a
// bridge (itself in its own namespace) by a veth pair, every link shaped to the same rate in
// both directions with tbf. Nothing is attached to the caller's namespace, so benchmark
// traffic never leaves these namespaces. Needs root and iproute2.

import { execa } from 'execa';

/** Hosts are named by nsOf and addressed by ipOf. */
export interface Topology {
  hosts: number;
  destroy(): Promise<void>;
}

const PREFIX = 'tswb';
const hub = `${PREFIX}-hub`;
/** namespace of host i (0 = origin) */
export const nsOf = (i: number) => `${PREFIX}-h${i}`;
/** IPv4 address of host i */
export const ipOf = (i: number) => `10.77.0.${i + 1}`;

async function ip(args: string[]): Promise<void> {
  const r = await execa('ip', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(' ')}: ${String(r.stderr).trim()}`);
}

/** Kills every process still running in a namespace (an interrupted run leaves agents). */
async function killAllIn(ns: string): Promise<void> {
  const { stdout } = await execa('ip', ['netns', 'pids', ns], { reject: false });
  for (const pid of String(stdout)
    .split('\n')
    .map(Number)
    .filter((p) => p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function deleteNs(ns: string): Promise<void> {
  await killAllIn(ns);
  await execa('ip', ['netns', 'delete', ns], { reject: false });
}

async function tc(ns: string, dev: string, rateMbit: number): Promise<void> {
  // burst: at least one 10 ms tick of data and a full GSO segment; latency bounds the queue.
  const burstBytes = Math.max(64 * 1024, Math.ceil((rateMbit * 1e6) / 8 / 100));
  const args = ['netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', dev, 'root', 'tbf'];
  args.push('rate', `${rateMbit}mbit`, 'burst', String(burstBytes), 'latency', '20ms');
  const r = await execa('ip', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`tc on ${ns}/${dev}: ${String(r.stderr).trim()}`);
}

/** Namespaces left by an interrupted run (same prefix) are removed first. */
export async function removeStale(): Promise<void> {
  const { stdout } = await execa('ip', ['netns', 'list'], { reject: false });
  const stale = String(stdout)
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${PREFIX}-`));
  for (const n of stale) await deleteNs(n);
}

export async function createTopology(
  hosts: number,
  rateMbit: number,
  tcpCc = 'cubic',
  /** `key=value` sysctls set in every host's namespace (e.g. net.ipv4.tcp_notsent_lowat=65536) */
  sysctls: string[] = [],
): Promise<Topology> {
  if (process.getuid?.() !== 0) throw new Error('the swarm benchmark needs root (network namespaces)');
  if (hosts > 250) throw new Error('at most 250 hosts on one /24');
  await removeStale();
  const created: string[] = [];
  const topology: Topology = {
    hosts,
    async destroy() {
      for (const n of created.reverse()) await deleteNs(n);
    },
  };
  try {
    await ip(['netns', 'add', hub]);
    created.push(hub);
    await ip(['-n', hub, 'link', 'set', 'lo', 'up']);
    await ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', hub, 'link', 'set', 'br0', 'up']);
    for (let i = 0; i < hosts; i++) {
      const ns = nsOf(i);
      await ip(['netns', 'add', ns]);
      created.push(ns);
      const port = `p${i}`;
      await ip(['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', hub]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', ns, 'addr', 'add', `${ipOf(i)}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      // A new namespace inherits the machine's congestion control (bbr on the benchmark's VM;
      // only bbr and reno may be a namespace's default there), but the hosts stand for
      // machines running their distribution's default, cubic: set it on the subnet's route.
      await ip(
        ['-n', ns, 'route', 'replace', '10.77.0.0/24', 'dev', 'eth0', 'proto', 'kernel'].concat([
          'scope',
          'link',
          'src',
          ipOf(i),
          'congctl',
          tcpCc,
        ]),
      );
      for (const setting of sysctls) {
        const r = await execa('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', setting], { reject: false });
        if (r.exitCode !== 0) throw new Error(`sysctl ${setting} in ${ns}: ${String(r.stderr).trim()}`);
      }
      await ip(['-n', hub, 'link', 'set', port, 'master', 'br0']);
      await ip(['-n', hub, 'link', 'set', port, 'up']);
      await tc(ns, 'eth0', rateMbit); // the host's upload
      await tc(hub, port, rateMbit); // the host's download
    }
  } catch (err) {
    await topology.destroy();
    throw err;
  }
  return topology;
}

/** Cumulative counters of one host's link: bytes and drops both ways, TCP segments it sent. */
export interface LinkCounters {
  upBytes: number;
  upDrops: number;
  downBytes: number;
  downDrops: number;
  tcpOutSegs: number;
  tcpRetransSegs: number;
}

async function qdiscStats(ns: string, dev: string): Promise<{ bytes: number; drops: number }> {
  const r = await execa('ip', ['netns', 'exec', ns, 'tc', '-s', '-j', 'qdisc', 'show', 'dev', dev], {
    reject: false,
  });
  const root = (JSON.parse(String(r.stdout) || '[]') as Array<{ bytes?: number; drops?: number }>)[0];
  return { bytes: root?.bytes ?? 0, drops: root?.drops ?? 0 };
}

/** Reads host i's counters (its tbf qdiscs on both ends of its link, its /proc/net/snmp). */
export async function linkCounters(i: number): Promise<LinkCounters> {
  const ns = nsOf(i);
  const [up, down, snmp] = await Promise.all([
    qdiscStats(ns, 'eth0'),
    qdiscStats(hub, `p${i}`),
    execa('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { reject: false }),
  ]);
  const tcp = tcpSegments(String(snmp.stdout));
  return {
    upBytes: up.bytes,
    upDrops: up.drops,
    downBytes: down.bytes,
    downDrops: down.drops,
    tcpOutSegs: tcp.outSegs,
    tcpRetransSegs: tcp.retransSegs,
  };
}

/** TCP segments sent and retransmitted, from the text of a namespace's /proc/net/snmp. */
export function tcpSegments(snmp: string): { outSegs: number; retransSegs: number } {
  const tcp = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = (tcp[0] ?? '').split(/\s+/);
  const values = (tcp[1] ?? '').split(/\s+/).map(Number);
  const field = (name: string) => values[names.indexOf(name)] ?? 0;
  return { outSegs: field('OutSegs'), retransSegs: field('RetransSegs') };
}
