// One writer per repository: an O_EXCL lock file holding the owner's pid. A lock left by a
// dead process (crash) is taken over, so a crashed publish never blocks the next one.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { BridgeError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(lockFile: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
      if (Number.isFinite(owner) && owner !== process.pid && alive(owner)) {
        throw new BridgeError('REPO_LOCKED', `repository is locked by process ${owner} (${lockFile})`);
      }
      if (owner === process.pid)
        throw new BridgeError('REPO_LOCKED', 'a transaction is already open in this process');
      rmSync(lockFile, { force: true });
    }
  }
  throw new BridgeError('REPO_LOCKED', `could not take the lock ${lockFile}`);
}
