// Where a round's CPU went: the machine's time by kind (/proc/stat) and the time of the
// processes the round ran (/proc/PID/stat), so a CPU-bound round says whether the agents,
// the origin or the kernel's network path (softirq: veth, bridge, tc) took the cores.

import { readFile } from 'node:fs/promises';

const TICK = 100; // USER_HZ, as on every Linux the bench runs on

export interface MachineTimes {
  user: number;
  system: number;
  softirq: number;
  busy: number;
  total: number;
}

/** The whole machine's CPU seconds so far, by kind. */
export async function machineTimes(): Promise<MachineTimes> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (k: number) => (t[k] ?? 0) / TICK;
  const total = t.slice(0, 8).reduce((a, b) => a + b, 0) / TICK; // guest time is inside user
  const idle = at(3) + at(4);
  return { user: at(0) + at(1), system: at(2), softirq: at(5) + at(6), busy: total - idle, total };
}

/** User + system CPU seconds a process has used so far; undefined once it is gone. */
export async function processSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  // fields after the command name (which may hold spaces) start at state (field 3)
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK; // utime, stime
}

/** read/write system calls a process has made so far and the bytes they moved (/proc/PID/io) */
export async function processIo(
  pid: number | undefined,
): Promise<{ reads: number; readBytes: number } | undefined> {
  if (pid === undefined) return undefined;
  const text = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { reads: field('syscr'), readBytes: field('rchar') };
}

export interface CpuAccount {
  seconds: number;
  machine: { busy: number; user: number; system: number; softirq: number };
  /** per process group, CPU seconds used during the round */
  processes: Record<string, number>;
  /** per process group, read system calls (sockets and files) and the bytes they returned */
  reads: Record<string, { calls: number; bytes: number }>;
}

/**
 * Starts an account of the round's CPU: `stop()` gives the difference since the start.
 * Processes are read at stop while still running (call it before killing them).
 */
export async function startCpuAccount(groups: Record<string, Array<number | undefined>>) {
  const readGroups = async () => {
    const out: Record<string, number> = {};
    for (const [name, pids] of Object.entries(groups))
      out[name] = (await Promise.all(pids.map(processSeconds))).reduce<number>((a, b) => a + (b ?? 0), 0);
    return out;
  };
  const readIo = async () => {
    const out: Record<string, { calls: number; bytes: number }> = {};
    for (const [name, pids] of Object.entries(groups)) {
      const io = await Promise.all(pids.map(processIo));
      out[name] = {
        calls: io.reduce((a, b) => a + (b?.reads ?? 0), 0),
        bytes: io.reduce((a, b) => a + (b?.readBytes ?? 0), 0),
      };
    }
    return out;
  };
  const startedAt = performance.now();
  const [m0, p0, io0] = await Promise.all([machineTimes(), readGroups(), readIo()]);
  return {
    stop: async (): Promise<CpuAccount> => {
      const [m1, p1, io1] = await Promise.all([machineTimes(), readGroups(), readIo()]);
      const d = (k: keyof MachineTimes) => Number((m1[k] - m0[k]).toFixed(2));
      return {
        seconds: Number(((performance.now() - startedAt) / 1000).toFixed(2)),
        machine: { busy: d('busy'), user: d('user'), system: d('system'), softirq: d('softirq') },
        processes: Object.fromEntries(
          Object.entries(p1).map(([k, v]) => [k, Number((v - (p0[k] ?? 0)).toFixed(2))]),
        ),
        reads: Object.fromEntries(
          Object.entries(io1).map(([k, v]) => [
            k,
            { calls: v.calls - (io0[k]?.calls ?? 0), bytes: v.bytes - (io0[k]?.bytes ?? 0) },
          ]),
        ),
      };
    },
  };
}
