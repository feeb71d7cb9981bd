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

/** A process's user and system CPU seconds so far; undefined once it is gone. */
export async function processTimes(
  pid: number | undefined,
): Promise<{ user: number; system: number } | undefined> {
  if (pid === undefined) return undefined;
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  // fields after the command name (which may hold spaces) start at state (field 3)
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / TICK, system: Number(fields[12]) / TICK }; // utime, stime
}

/**
 * How often a process's main thread (for Node, the event loop) went to sleep and was woken
 * (voluntary) or was preempted (involuntary) so far: /proc/PID/status counts the thread group
 * leader only, which is the thread whose wake-ups per byte the transfer engine's reads decide.
 */
export async function mainThreadSwitches(
  pid: number | undefined,
): Promise<{ voluntary: number; involuntary: number } | undefined> {
  if (pid === undefined) return undefined;
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
}

interface GroupTimes {
  user: number;
  system: number;
  voluntary: number;
  involuntary: number;
}

export interface CpuAccount {
  seconds: number;
  machine: { busy: number; user: number; system: number; softirq: number };
  /** per process group, CPU seconds (user + system) used during the round */
  processes: Record<string, number>;
  /** per process group: user and system seconds, and the main threads' context switches */
  detail: Record<string, GroupTimes>;
}

/**
 * Starts an account of the round's CPU: `stop()` gives the difference since the start.
 * Processes are read at stop while still running (call it before killing them).
 */
export async function startCpuAccount(groups: Record<string, Array<number | undefined>>) {
  const readGroups = async () => {
    const out: Record<string, GroupTimes> = {};
    for (const [name, pids] of Object.entries(groups)) {
      const [times, switches] = await Promise.all([
        Promise.all(pids.map(processTimes)),
        Promise.all(pids.map(mainThreadSwitches)),
      ]);
      out[name] = {
        user: times.reduce((a, t) => a + (t?.user ?? 0), 0),
        system: times.reduce((a, t) => a + (t?.system ?? 0), 0),
        voluntary: switches.reduce((a, w) => a + (w?.voluntary ?? 0), 0),
        involuntary: switches.reduce((a, w) => a + (w?.involuntary ?? 0), 0),
      };
    }
    return out;
  };
  const startedAt = performance.now();
  const [m0, p0] = await Promise.all([machineTimes(), readGroups()]);
  return {
    stop: async (): Promise<CpuAccount> => {
      const [m1, p1] = await Promise.all([machineTimes(), readGroups()]);
      const d = (k: keyof MachineTimes) => Number((m1[k] - m0[k]).toFixed(2));
      const detail = Object.fromEntries(
        Object.entries(p1).map(([k, v]) => {
          const b = p0[k] ?? { user: 0, system: 0, voluntary: 0, involuntary: 0 };
          return [
            k,
            {
              user: Number((v.user - b.user).toFixed(2)),
              system: Number((v.system - b.system).toFixed(2)),
              voluntary: v.voluntary - b.voluntary,
              involuntary: v.involuntary - b.involuntary,
            },
          ];
        }),
      );
      return {
        seconds: Number(((performance.now() - startedAt) / 1000).toFixed(2)),
        machine: { busy: d('busy'), user: d('user'), system: d('system'), softirq: d('softirq') },
        processes: Object.fromEntries(
          Object.entries(detail).map(([k, v]) => [k, Number((v.user + v.system).toFixed(2))]),
        ),
        detail,
      };
    },
  };
}
