// Flushes the filesystem that holds a directory to stable storage: every dirty page, inode
// and directory entry on it (syncfs(2)). A manifest is renamed into place only after this,
// so that after a power cut it never names objects or catalogs that did not reach the disk.
// One syncfs per publish costs less than an fsync per object (thousands of small files), and
// Node has no binding for it: coreutils' `sync --file-system` makes the call.
import { execFileSync } from 'node:child_process';

export function flushFileSystem(dir: string): void {
  try {
    execFileSync('sync', ['--file-system', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`could not flush ${dir} to disk: ${stderr || (error as Error).message}`, {
      cause: error,
    });
  }
}
