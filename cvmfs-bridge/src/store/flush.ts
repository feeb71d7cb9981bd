// Flushes the filesystem that holds a directory to stable storage: every dirty page, inode
// and directory entry on it (syncfs(2)). A manifest is renamed into place only after this,
// so that after a power cut it never names objects or catalogs that did not reach the disk.
// One syncfs per publish costs less than an fsync per object (thousands of small files), and
// Node has no binding for it: coreutils' `sync --file-system` makes the call.
import { type ChildProcessWithoutNullStreams, execFile, execFileSync, spawn } from 'node:child_process';

const ARGS = (dir: string) => ['--file-system', dir];
const failure = (dir: string, error: unknown): Error => {
  const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
  return new Error(`could not flush ${dir} to disk: ${stderr || (error as Error).message}`, { cause: error });
};

export function flushFileSystem(dir: string): void {
  try {
    execFileSync('sync', ARGS(dir), { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw failure(dir, error);
  }
}

// Spawning `sync` from this process forks all of it: ~20 ms of the main thread each time with a
// large heap (4 % of a shared-base container tag per flush). A small shell started once runs
// `sync` for each directory written to its stdin and answers one line per request, in order:
// then a flush costs the event loop a pipe write, and flushes can start early and often.
const HELPER_SCRIPT = [
  'while IFS= read -r d; do',
  '  if e=$(sync --file-system -- "$d" 2>&1); then echo ok;',
  `  else printf 'failed %s\\n' "$(printf '%s' "$e" | tr '\\n' ' ')"; fi`,
  'done',
].join('\n');

interface Waiter {
  readonly dir: string;
  resolve(): void;
  reject(error: Error): void;
}

class FlushHelper {
  readonly path: string | undefined;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Waiter[] = [];
  private buffered = '';
  dead = false;

  constructor() {
    this.path = process.env.PATH;
    this.child = spawn('sh', ['-c', HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (text: string) => this.onData(text));
    this.child.stderr.resume();
    // A helper that died (killed, or no shell) leaves its requests to a `sync` of their own.
    const gone = () => {
      this.dead = true;
      for (const w of this.waiting.splice(0)) spawnFlush(w.dir).then(w.resolve, w.reject);
    };
    this.child.on('error', gone);
    this.child.on('exit', gone);
    this.child.stdin.on('error', () => {}); // a dead helper: handled on 'exit'
    this.idle();
  }

  /** The helper keeps the process alive only while a flush is pending. */
  private idle(): void {
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr])
      (s as unknown as { unref?: () => void }).unref?.();
  }

  private busy(): void {
    this.child.ref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr])
      (s as unknown as { ref?: () => void }).ref?.();
  }

  private onData(text: string): void {
    this.buffered += text;
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const w = this.waiting.shift();
      if (!w) continue;
      if (line === 'ok') w.resolve();
      else w.reject(failure(w.dir, Object.assign(new Error('sync failed'), { stderr: line.slice(7) })));
    }
    if (this.waiting.length === 0) this.idle();
  }

  flush(dir: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) this.busy();
      this.waiting.push({ dir, resolve, reject });
      this.child.stdin.write(`${dir}\n`);
    });
  }
}

let helper: FlushHelper | undefined;

/** The running helper, (re)started when it died or PATH changed (which `sync` runs). */
function flushHelper(): FlushHelper {
  if (!helper || helper.dead || helper.path !== process.env.PATH) helper = new FlushHelper();
  return helper;
}

function spawnFlush(dir: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    execFile('sync', ARGS(dir), (error, _stdout, stderr) =>
      error ? reject(failure(dir, Object.assign(error, { stderr }))) : resolve(),
    );
  });
}

/**
 * Starts the same flush in the background: the write-back of the objects then overlaps the
 * catalog work, and the final flushFileSystem before the manifest rename finds little left.
 * The promise never rejects unobserved (a failure is also found by the final flush).
 */
export function startFlush(dir: string): Promise<void> {
  // A directory name with a line break cannot go through the helper's line protocol.
  const done = dir.includes('\n') ? spawnFlush(dir) : flushHelper().flush(dir);
  done.catch(() => {});
  return done;
}
