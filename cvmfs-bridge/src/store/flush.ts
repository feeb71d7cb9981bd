// Flushes the filesystem that holds a directory to stable storage: every dirty page, inode
// and directory entry on it (syncfs(2)). A manifest is renamed into place only after this,
// so that after a power cut it never names objects or catalogs that did not reach the disk.
// One syncfs per publish costs less than an fsync per object (thousands of small files), and
// Node has no binding for it: coreutils' `sync --file-system` makes the call.
import { execFile, execFileSync } from 'node:child_process';

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

/**
 * Starts the same flush in the background: the write-back of the objects then overlaps the
 * catalog work, and the final flushFileSystem before the manifest rename finds little left.
 * The promise never rejects unobserved (a failure is also found by the final flush).
 */
export function startFlush(dir: string): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    execFile('sync', ARGS(dir), (error, _stdout, stderr) =>
      error ? reject(failure(dir, Object.assign(error, { stderr }))) : resolve(),
    );
  });
  done.catch(() => {});
  return done;
}
