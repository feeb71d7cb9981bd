// One writer per repository: a lock file holding the owner's pid and what it runs, put in
// place whole (written aside, then hard-linked to the lock's name, which fails if a lock is
// there). A second writer waits up to `waitSeconds` for the holder to finish (0: refuses at
// once), trying again after pauses that grow from 25 ms to 1 s with jitter, as git's
// lock_file_timeout does: no busy loop, and no blocked thread in the async form. A lock left
// by a dead process (crash) is taken over, so a crashed publish never blocks the next one.
// Within one process, transactions take turns first (turns.ts): one of them at a time tries it.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BridgeError } from '../errors.js';

export interface LockOptions {
  /** How long a second writer waits for the holder to finish; 0 refuses at once. */
  readonly waitSeconds?: number;
  /** The wait a refusal reports (default waitSeconds): a caller's earlier wait included (turns.ts). */
  readonly reportWaitSeconds?: number;
}

const FIRST_PAUSE_MS = 25;
const MAX_PAUSE_MS = 1000;

/** The process holding a lock, as its lock file says. */
interface Holder {
  readonly pid: number;
  readonly what: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code;

/** Line 1 the pid (all an older lock file holds), line 2 the command and since when. */
function lockContent(): string {
  const command = [basename(process.argv[1] ?? 'node'), ...process.argv.slice(2)].join(' ').slice(0, 200);
  return `${process.pid}\n${command} since ${new Date().toISOString()}\n`;
}

/** Creates the lock file with its content in one step; false when a lock is there. */
function create(lockFile: string, content: string): boolean {
  const aside = `${lockFile}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, content, { mode: 0o600 });
  try {
    linkSync(aside, lockFile);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP'].includes(errorCode(error) ?? '')) throw error;
  } finally {
    rmSync(aside, { force: true });
  }
  // a file system without hard links: exclusive create (as before: a reader that sees it still
  // empty takes it for a dead holder's)
  try {
    writeFileSync(lockFile, content, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Removes a lock whose holder is dead, if it is still that lock: it is renamed aside first and
 * checked, and put back when another process replaced it with its own lock in the meantime.
 */
function takeOver(lockFile: string, staleContent: string): void {
  const aside = `${lockFile}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lockFile, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  try {
    if (readFileSync(aside, 'utf8') !== staleContent) linkSync(aside, lockFile);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

/** One try: the release function, the live holder, or undefined when the lock changed under us. */
function attempt(lockFile: string): (() => void) | Holder | undefined {
  if (create(lockFile, lockContent())) return () => rmSync(lockFile, { force: true });
  let content: string;
  try {
    content = readFileSync(lockFile, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  const [first = '', what = ''] = content.split('\n');
  const pid = Number.parseInt(first, 10);
  if (pid === process.pid)
    throw new BridgeError('REPO_LOCKED', 'a transaction is already open in this process');
  if (Number.isFinite(pid) && alive(pid)) return { pid, what };
  takeOver(lockFile, content);
  return create(lockFile, lockContent()) ? () => rmSync(lockFile, { force: true }) : undefined;
}

/** Tries until the lock is taken or the wait is over, yielding each pause (ms) before the next try. */
function* attempts(lockFile: string, options: LockOptions): Generator<number, () => void> {
  const waitMs = Math.max(0, options.waitSeconds ?? 0) * 1000;
  const deadline = Date.now() + waitMs;
  let holder: Holder | undefined;
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
    const result = attempt(lockFile);
    if (typeof result === 'function') return result;
    holder = result ?? holder;
    const left = deadline - Date.now();
    if (left <= 0) break;
    yield Math.min(left, pause * (0.5 + Math.random() / 2));
  }
  const who = holder ? `process ${holder.pid}${holder.what ? ` (${holder.what})` : ''}` : 'another process';
  const reported = options.reportWaitSeconds ?? waitMs / 1000;
  const waited = reported > 0 ? `; waited ${Number(reported.toFixed(1))} s` : '';
  throw new BridgeError('REPO_LOCKED', `repository is locked by ${who} (${lockFile})${waited}`);
}

/** Takes the repository's lock, waiting for another writer to finish; resolves to its release. */
export async function acquireLock(lockFile: string, options: LockOptions = {}): Promise<() => void> {
  const tries = attempts(lockFile, options);
  for (let step = tries.next(); ; step = tries.next()) {
    if (step.done) return step.value;
    await sleep(step.value);
  }
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * The same for synchronous callers (tags, whitelist, object GC): the thread sleeps between
 * tries, so a daemon's event loop must not call it with a wait.
 */
export function acquireLockSync(lockFile: string, options: LockOptions = {}): () => void {
  const tries = attempts(lockFile, options);
  for (let step = tries.next(); ; step = tries.next()) {
    if (step.done) return step.value;
    Atomics.wait(pauseCell, 0, 0, step.value);
  }
}
