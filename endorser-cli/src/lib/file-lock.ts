// An exclusive lock between processes on one machine: a file created with O_EXCL that holds
// the owner's pid. A lock whose owner is gone is taken over, and only under a second, short
// "takeover" lock, so two waiters that both see the dead owner cannot each remove the lock
// the other has just created.

import { closeSync, fstatSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { CliError, fsError } from './errors.js';

/** How long a lock file may stay empty (created, pid not yet written) before it counts as left. */
const EMPTY_LOCK_STALE_MS = 5_000;
/** A takeover takes microseconds; a takeover lock this old belongs to a process that died in it. */
const TAKEOVER_STALE_MS = 10_000;
const POLL_MS = 50;

interface Holder {
  pid: number;
  ino: number;
  ageMs: number;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's current owner, or undefined when the lock was released since we looked. */
function readHolder(path: string): Holder | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(err, path);
  }
  try {
    const st = fstatSync(fd);
    const pid = Number(readFileSync(fd, 'utf8').trim() || '0');
    return { pid: Number.isInteger(pid) ? pid : 0, ino: st.ino, ageMs: Date.now() - st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

function isLeft(h: Holder): boolean {
  return h.pid > 0 ? !processAlive(h.pid) : h.ageMs > EMPTY_LOCK_STALE_MS;
}

/**
 * Removes the lock if it is still the very file `seen` (same inode) whose owner is gone.
 * Returns false when another process holds the takeover lock.
 */
function takeOver(path: string, seen: Holder): boolean {
  const guard = `${path}.takeover`;
  try {
    writeFileSync(guard, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, guard);
    try {
      if (Date.now() - statSync(guard).mtimeMs > TAKEOVER_STALE_MS) rmSync(guard, { force: true });
    } catch {}
    return false;
  }
  try {
    const now = readHolder(path);
    if (now && now.ino === seen.ino && isLeft(now)) rmSync(path, { force: true });
    return true;
  } finally {
    rmSync(guard, { force: true });
  }
}

/**
 * Takes the lock at `path`, waiting up to `waitMs` for another live owner to let go; throws
 * a CliError naming the owner when it does not. Returns the function that releases it.
 */
export function acquireFileLock(
  path: string,
  waitMs: number,
  busyMessage: (pid: number) => string,
): () => void {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, path);
    }
    const holder = readHolder(path);
    if (!holder) continue; // released between our create and our read
    if (isLeft(holder)) {
      if (!takeOver(path, holder)) sleepSync(POLL_MS); // another waiter is taking it over
      continue;
    }
    if (Date.now() > deadline) throw new CliError('WORKSPACE_INVALID', busyMessage(holder.pid));
    sleepSync(POLL_MS);
  }
}
