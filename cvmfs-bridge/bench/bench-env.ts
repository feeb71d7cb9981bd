// What the container benchmarks need from this machine: a scratch directory in unused block
// groups and the scheduling priority they were started with.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';

/**
 * A new directory below `parent` for this run's files, in block groups nobody used lately.
 * This VM's root filesystem is ext4 without a journal: allocating an inode there checks every
 * free inode of the block group deleted in the last minute (six while its inode-table block is
 * dirty) and skips it (recently_deleted() in find_inode_bit). Every directory below /tmp lands
 * in /tmp's flex group, where the previous run deleted its ~35,000 files and other jobs create
 * and delete theirs; the ingests' objects then cost up to ~0.8 ms of kernel time each instead of
 * ~40 µs (seen with perf: find_get_block_common, recently_deleted). `chattr +T` makes ext4
 * place each subdirectory of `parent` like a top-level directory (Orlov: a fresh, lightly used
 * group). Elsewhere (other filesystems, no chattr) it is a plain temporary directory.
 */
export function freshScratchDir(parent: string): string {
  mkdirSync(parent, { recursive: true });
  try {
    execFileSync('chattr', ['+T', parent], { stdio: 'ignore' });
  } catch {
    // not ext4, or no chattr: the placement is the filesystem's own
  }
  return mkdtempSync(join(parent, 'run-'));
}

/**
 * Gives this process's autogroup the nice value the process was started with (`nice -n -10`).
 * With autogroup scheduling (kernel.sched_autogroup_enabled = 1, as here) the CPU is shared
 * between sessions first and nice only orders the threads within one session, so a bench started
 * with `nice -n -10` got no more CPU than any other job's session. Start it with `setsid` so that
 * its session (and autogroup) is its own. Returns the autogroup's nice, or undefined without one.
 */
export function autogroupPriority(): number | undefined {
  const file = '/proc/self/autogroup';
  if (!existsSync(file)) return undefined;
  const current = Number(/nice (-?\d+)/.exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
  const wanted = getPriority();
  if (wanted >= current) return current;
  try {
    writeFileSync(file, String(wanted));
    return wanted;
  } catch {
    return current; // not permitted (negative nice needs CAP_SYS_NICE)
  }
}
