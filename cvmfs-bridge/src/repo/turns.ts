// One open transaction per repository within a process, the others waiting in arrival order
// (`tsw-bridge run` publishes from several flows into one repository). A transaction first waits
// for its turn here, then takes the cross-process lock file (lock.ts), once; both waits share
// one deadline, `lockWaitSeconds`. Who holds a turn is named by the flow that runs it (`runAs`),
// so a waiter that gives up can say what it waited for. A transaction opened inside another's
// callback on the same repository would wait for itself: it is refused at once instead.
import { AsyncLocalStorage } from 'node:async_hooks';
import { basename, dirname, resolve } from 'node:path';
import { BridgeError } from '../errors.js';
import { acquireLock, acquireLockSync } from './lock.js';

/** A repository's turn, held by one transaction of this process. */
interface Turn {
  readonly who: string | undefined;
  readonly since: Date;
  released: boolean;
}

interface Waiter {
  readonly who: string | undefined;
  readonly grant: (turn: Turn) => void;
}

/** Per repository (by lock file): the turn being held and the transactions waiting for it. */
interface Line {
  holder: Turn | undefined;
  readonly waiting: Waiter[];
}

const lines = new Map<string, Line>();
/** The name of what is running (a flow, an entry) in this asynchronous context. */
const actor = new AsyncLocalStorage<string>();
/** The turns held by the transactions this asynchronous context runs inside. */
const held = new AsyncLocalStorage<ReadonlyMap<string, Turn>>();

/** Runs `fn` (and everything it starts) under a name that transactions it opens are known by. */
export function runAs<T>(who: string, fn: () => T): T {
  return actor.run(who, fn);
}

export interface RepositoryHold {
  /** Runs the transaction's own work: a transaction it opens on this repository is refused at once. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Releases the lock file and passes the turn to the next waiter (idempotent). */
  release(): void;
}

export interface HoldOptions {
  /** How long to wait for the turn and then the lock file, together; 0 refuses at once. */
  readonly waitSeconds?: number;
}

/** `stateDir/FQRN/lock` → FQRN, for messages. */
const repoName = (key: string) => basename(dirname(key));

function describe(turn: Turn): string {
  return `${turn.who ? `${turn.who}, ` : ''}open since ${turn.since.toISOString()}`;
}

function lineOf(key: string): Line {
  let line = lines.get(key);
  if (!line) {
    line = { holder: undefined, waiting: [] };
    lines.set(key, line);
  }
  return line;
}

function newTurn(line: Line, who: string | undefined): Turn {
  const turn: Turn = { who, since: new Date(), released: false };
  line.holder = turn;
  return turn;
}

/** Gives the turn to the next waiter, in arrival order, or frees the line. */
function pass(key: string, turn: Turn): void {
  if (turn.released) return;
  turn.released = true;
  const line = lines.get(key);
  if (!line || line.holder !== turn) return;
  line.holder = undefined;
  const next = line.waiting.shift();
  if (next) next.grant(newTurn(line, next.who));
  else lines.delete(key);
}

function refuseNested(key: string): void {
  const mine = held.getStore()?.get(key);
  if (mine && !mine.released)
    throw new BridgeError(
      'REPO_LOCKED',
      `repository ${repoName(key)}: a transaction is already open in this call chain (${describe(mine)}); one opened inside it would wait for itself`,
    );
}

const waited = (ms: number) => Number((ms / 1000).toFixed(1));

/** Waits for the repository's turn in this process, until `deadline` (ms). */
function takeTurn(key: string, who: string | undefined, waitMs: number, deadline: number): Promise<Turn> {
  const line = lineOf(key);
  if (!line.holder && line.waiting.length === 0) return Promise.resolve(newTurn(line, who));
  const busy = `repository ${repoName(key)} is busy with another transaction of this process`;
  if (waitMs <= 0)
    return Promise.reject(new BridgeError('REPO_LOCKED', `${busy} (${describe(line.holder as Turn)})`));
  return new Promise<Turn>((resolvePromise, reject) => {
    const waiter: Waiter = {
      who,
      grant: (turn) => {
        clearTimeout(timer);
        resolvePromise(turn);
      },
    };
    const timer = setTimeout(
      () => {
        const at = line.waiting.indexOf(waiter);
        if (at >= 0) line.waiting.splice(at, 1);
        const holder = line.holder ? ` (${describe(line.holder)})` : '';
        reject(new BridgeError('REPO_LOCKED', `${busy}${holder}; waited ${waited(waitMs)} s`));
      },
      Math.max(0, deadline - Date.now()),
    );
    line.waiting.push(waiter);
  });
}

/** Per repository of this process with a transaction open: what holds it, since when, and what waits (for /status). */
export function repositoryTurns(): Record<string, { holder: string; since: string; waiting: string[] }> {
  const out: Record<string, { holder: string; since: string; waiting: string[] }> = {};
  for (const [key, line] of lines)
    if (line.holder)
      out[repoName(key)] = {
        holder: line.holder.who ?? '',
        since: line.holder.since.toISOString(),
        waiting: line.waiting.map((w) => w.who ?? ''),
      };
  return out;
}

/**
 * Takes the repository for one transaction: its turn among this process's transactions (in
 * arrival order), then the cross-process lock file, both within `waitSeconds`.
 */
export async function holdRepository(lockFile: string, options: HoldOptions = {}): Promise<RepositoryHold> {
  const key = resolve(lockFile);
  refuseNested(key);
  const waitMs = Math.max(0, options.waitSeconds ?? 0) * 1000;
  const deadline = Date.now() + waitMs;
  const turn = await takeTurn(key, actor.getStore(), waitMs, deadline);
  let releaseFile: () => void;
  try {
    const left = Math.max(0, deadline - Date.now());
    releaseFile = await acquireLock(key, { waitSeconds: left / 1000, reportWaitSeconds: waited(waitMs) });
  } catch (error) {
    pass(key, turn);
    throw error;
  }
  return {
    run: (fn) => held.run(new Map([...(held.getStore() ?? []), [key, turn]]), fn),
    release: () => {
      if (turn.released) return;
      releaseFile();
      pass(key, turn);
    },
  };
}

/**
 * The same for synchronous writers (tags, whitelist, object GC): they cannot wait for a turn
 * without blocking the holder's event loop, so a repository busy in this process refuses at once.
 */
export function holdRepositorySync(lockFile: string, options: HoldOptions = {}): () => void {
  const key = resolve(lockFile);
  const holder = lines.get(key)?.holder;
  if (holder)
    throw new BridgeError(
      'REPO_LOCKED',
      `repository ${repoName(key)} is busy with another transaction of this process (${describe(holder)})`,
    );
  const turn = newTurn(lineOf(key), actor.getStore());
  try {
    const releaseFile = acquireLockSync(key, options);
    return () => {
      if (turn.released) return;
      releaseFile();
      pass(key, turn);
    };
  } catch (error) {
    pass(key, turn);
    throw error;
  }
}
