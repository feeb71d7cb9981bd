// Worker pools kept between transactions of one process. A service converts one image after
// another; a pool started per transaction pays for starting its threads and runs their code
// unoptimised: storing the 3,885 files of a 55 MB layer took 1.75 CPU seconds with a fresh pool
// and 1.3 with one that had stored a layer before. At most one pool waits (threads that do not
// keep the process alive); a transaction with other options, or IDLE_MS without one, closes it.
import { statSync } from 'node:fs';
import { BridgeError } from '../errors.js';
import { type StoredObject, type StoreTask, WorkerPool, type WorkerPoolOptions } from './worker-pool.js';

const IDLE_MS = 60_000;

/** What a transaction may do with the pool it holds; nothing once it gave the pool back. */
export interface PoolLease {
  store(task: StoreTask): Promise<StoredObject>;
  waitForCapacity(max: number, maxBytes?: number): Promise<void>;
}

interface Idle {
  readonly key: string;
  readonly pool: WorkerPool;
  readonly timer: NodeJS.Timeout;
}

let idle: Idle | undefined;

// The workers keep the content cache open: a repository recreated at the same path (a new
// cache file) must not get a pool reading the old one.
function keyOf(options: WorkerPoolOptions): string {
  const cache = options.cacheDbPath ? statSync(options.cacheDbPath, { throwIfNoEntry: false }) : undefined;
  return JSON.stringify({ ...options, cacheFile: cache ? `${cache.dev}:${cache.ino}` : null });
}

class Lease implements PoolLease {
  released = false;
  constructor(readonly pool: WorkerPool) {}

  store(task: StoreTask): Promise<StoredObject> {
    if (this.released) return Promise.reject(new BridgeError('ABORTED', 'the transaction is over'));
    return this.pool.store(task);
  }

  waitForCapacity(max: number, maxBytes?: number): Promise<void> {
    return this.released ? Promise.resolve() : this.pool.waitForCapacity(max, maxBytes);
  }
}

/** A pool for one transaction: the waiting one when it was started with the same options. */
export function takePool(options: WorkerPoolOptions): { lease: PoolLease; release: () => Promise<void> } {
  const key = keyOf(options);
  let pool: WorkerPool | undefined;
  if (idle) {
    clearTimeout(idle.timer);
    if (idle.key === key && idle.pool.reusable) pool = idle.pool;
    else void idle.pool.close();
    idle = undefined;
  }
  pool ??= new WorkerPool(options);
  pool.setRef(true);
  const lease = new Lease(pool);
  const release = async () => {
    if (lease.released) return;
    lease.released = true;
    // No task of this transaction may still write once its lock is released.
    await pool.drain();
    if (!pool.reusable || idle !== undefined) {
      await pool.close();
      return;
    }
    pool.setRef(false);
    const timer = setTimeout(() => {
      if (idle?.pool !== pool) return;
      idle = undefined;
      void pool.close();
    }, IDLE_MS);
    timer.unref();
    idle = { key, pool, timer };
  };
  return { lease, release };
}

/** Closes the waiting pool, if any (tests; a process that wants its threads gone now). */
export async function closeIdlePool(): Promise<void> {
  const waiting = idle;
  idle = undefined;
  if (!waiting) return;
  clearTimeout(waiting.timer);
  await waiting.pool.close();
}
