// What the container benchmarks need from this machine: a scratch directory in unused block
// groups, the scheduling priority they were started with, and commands run without forking
// the bench's own (large) process.
import { execFileSync, spawn } from 'node:child_process';
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

const quoted = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * Runs the bench's commands (`sync`, skopeo, umoci) from a small shell started once, up front.
 * Spawning a child from the bench process forks all of it: the kernel write-protects every page
 * of its heap (hundreds of MB after an ingest), and the phase timed next takes a copy-on-write
 * fault for each page it writes: ~20,000 faults and ~0.45 of the ~2.5 CPU seconds of a shared-base
 * tag on this VM (minor faults per tag 25,000–29,000 with a `sync` forked before it, 6,500–8,900
 * without). A service converting one image after another does not fork between them (its flushes
 * go through store/flush.ts's helper), so the bench should not either. Start it before the heap
 * grows.
 */
export class BenchShell {
  private readonly child = spawn(
    'sh',
    // stdin is the request pipe: commands get /dev/null; their errors go to the bench's stderr.
    [
      '-c',
      'while IFS= read -r line; do if eval "$line" </dev/null >/dev/null; then echo 0; else echo $?; fi; done',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  private readonly waiting: { what: string; resolve(): void; reject(error: Error): void }[] = [];
  private buffered = '';

  constructor() {
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (text: string) => {
      this.buffered += text;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const status = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const w = this.waiting.shift();
        if (status === '0') w?.resolve();
        else w?.reject(new Error(`${w.what} failed (exit ${status})`));
      }
    });
    this.child.once('exit', () => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${w.what}: the bench shell ended`));
    });
  }

  /** Runs `argv` (output discarded, errors on stderr); rejects on a non-zero exit. */
  run(argv: readonly string[]): Promise<void> {
    if (argv.some((a) => a.includes('\n'))) throw new Error('bench shell: no line breaks in arguments');
    return new Promise((resolve, reject) => {
      this.waiting.push({ what: argv.join(' '), resolve, reject });
      this.child.stdin.write(`${argv.map(quoted).join(' ')}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}
