// A fixed pool of worker threads that store file contents as objects (hash, compress, write),
// so the main thread only walks trees and writes catalogs.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BridgeError } from '../errors.js';
import { COMPRESS_WORKER_SOURCE } from './compress-worker-source.js';

export interface StoredObject {
  /** SHA-1 of the uncompressed content (the content-hash cache key). */
  readonly rawHash: string;
  /** SHA-1 of the stored bytes: the object name. */
  readonly hash: string;
  readonly compressed: boolean;
  readonly sizeBytes: number;
  /** True when the cache or an existing object made compression unnecessary. */
  readonly reused: boolean;
}

export interface WorkerPoolOptions {
  readonly dataDir: string;
  readonly workers: number;
  readonly compressionLevel: number;
  readonly cacheDbPath?: string;
  /** Files up to this size are read whole; larger ones are streamed. */
  readonly smallFileBytes?: number;
  readonly sampleBytes?: number;
  /** Stored compressed only if compressed size < raw size × this ratio. */
  readonly maxStoredRatio?: number;
  /** Tasks handed to one worker at a time (overlaps its I/O waits). */
  readonly tasksPerWorker?: number;
}

export type StoreTask =
  | { readonly file: string; readonly deleteAfter?: boolean }
  | { readonly buffer: Uint8Array };

interface WorkerReply {
  readonly results: { id: number; result?: StoredObject; error?: { message: string } }[];
}

const MAX_BATCH_JOBS = 64;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

interface Pending {
  resolve(value: StoredObject): void;
  reject(error: Error): void;
}

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { id: number; task: StoreTask }[] = [];
  private readonly pending = new Map<number, Pending>();
  /** Task id → the worker running it. */
  private readonly running = new Map<number, Worker>();
  private nextId = 1;
  private closed = false;
  /** A worker died: its tasks failed and the pool must not be reused. */
  private crashed = false;
  private drainWaiters: (() => void)[] = [];

  constructor(options: WorkerPoolOptions) {
    const require = createRequire(import.meta.url);
    const workerData = {
      dataDir: options.dataDir,
      level: options.compressionLevel,
      cacheDbPath: options.cacheDbPath,
      betterSqlitePath: require.resolve('better-sqlite3'),
      smallFileBytes: options.smallFileBytes ?? 16 * 1024 * 1024,
      sampleBytes: options.sampleBytes ?? 4 * 1024 * 1024,
      maxStoredRatio: options.maxStoredRatio ?? 1,
    };
    for (let i = 0; i < Math.max(1, options.workers); i++) {
      const worker = new Worker(COMPRESS_WORKER_SOURCE, { eval: true, workerData });
      worker.on('message', (msg: WorkerReply) => this.onMessage(worker, msg));
      worker.on('error', (error) => this.onCrash(worker, error));
      this.workers.push(worker);
    }
    // Several slots per worker: while one task waits for disk, another one computes. Slots are
    // interleaved so that consecutive messages go to different workers.
    for (let slot = 0; slot < (options.tasksPerWorker ?? 2); slot++) this.idle.push(...this.workers);
  }

  store(task: StoreTask): Promise<StoredObject> {
    if (this.closed) return Promise.reject(new BridgeError('ABORTED', 'worker pool is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if ('buffer' in task) {
        this.taskBytes.set(id, task.buffer.byteLength);
        this.queuedBytes += task.buffer.byteLength;
      }
      this.queue.push({ id, task });
      this.scheduleDispatch();
    });
  }

  get queuedCount(): number {
    return this.queue.length + this.running.size;
  }

  /** Bytes of in-memory contents queued or running. */
  private queuedBytes = 0;
  private readonly taskBytes = new Map<number, number>();

  private capacityWaiters: { max: number; maxBytes: number; resolve: () => void }[] = [];

  private hasCapacity(max: number, maxBytes: number): boolean {
    return this.queuedCount <= max && this.queuedBytes <= maxBytes;
  }

  /**
   * Resolves once at most `max` tasks, and at most `maxBytes` of in-memory contents, are queued
   * or running (back-pressure for producers).
   */
  waitForCapacity(max: number, maxBytes = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.hasCapacity(max, maxBytes)) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push({ max, maxBytes, resolve }));
  }

  private wakeCapacityWaiters(): void {
    if (this.capacityWaiters.length === 0) return;
    const still: { max: number; maxBytes: number; resolve: () => void }[] = [];
    for (const w of this.capacityWaiters) {
      if (this.hasCapacity(w.max, w.maxBytes)) w.resolve();
      else still.push(w);
    }
    this.capacityWaiters = still;
  }

  private settled(id: number): void {
    this.running.delete(id);
    const bytes = this.taskBytes.get(id);
    if (bytes !== undefined) {
      this.taskBytes.delete(id);
      this.queuedBytes -= bytes;
    }
  }

  private dispatchScheduled = false;

  /**
   * Dispatches once the current turn of the event loop is over: a producer that adds many small
   * contents in one turn (a layer's members parsed from one chunk) sends them as a few batches.
   * Dispatching at once sent most of them alone, one message and one reply each (~50 µs of the
   * main thread per file, about a tenth of a container layer's main-thread time).
   */
  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      // Small in-memory contents travel in batches: one message per batch, not per file; the
      // queue is shared out over the idle slots, so no worker waits while another has a backlog.
      const share = Math.min(MAX_BATCH_JOBS, Math.ceil(this.queue.length / this.idle.length));
      const worker = this.idle.pop() as Worker;
      const jobs = [this.queue.shift() as { id: number; task: StoreTask }];
      let batchBytes = 0;
      while (
        'buffer' in (jobs[0] as { task: StoreTask }).task &&
        jobs.length < share &&
        batchBytes < MAX_BATCH_BYTES &&
        this.queue[0] !== undefined &&
        'buffer' in this.queue[0].task
      ) {
        const next = this.queue.shift() as { id: number; task: { buffer: Uint8Array } };
        batchBytes += next.task.buffer.byteLength;
        jobs.push(next);
      }
      const transfer: ArrayBuffer[] = [];
      for (const job of jobs) {
        this.running.set(job.id, worker);
        if ('buffer' in job.task) transfer.push(job.task.buffer.buffer as ArrayBuffer);
      }
      worker.postMessage({ jobs: jobs.map((j) => ({ id: j.id, ...j.task })) }, transfer);
    }
  }

  private onMessage(worker: Worker, msg: WorkerReply): void {
    this.idle.push(worker);
    for (const r of msg.results) {
      this.settled(r.id);
      const pending = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.result) pending?.resolve(r.result);
      else
        pending?.reject(
          new BridgeError('BAD_INPUT', `storing content failed: ${r.error?.message ?? 'unknown'}`),
        );
    }
    this.dispatch();
    this.wakeCapacityWaiters();
    this.wakeDrainWaiters();
  }

  private onCrash(worker: Worker, error: Error): void {
    this.crashed = true;
    for (const [id, w] of this.running) {
      if (w !== worker) continue;
      this.pending.get(id)?.reject(error);
      this.pending.delete(id);
      this.settled(id);
    }
    this.wakeCapacityWaiters();
    this.wakeDrainWaiters();
  }

  private wakeDrainWaiters(): void {
    if (this.running.size > 0) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  /** True while no worker died and the pool is open: it can serve another transaction. */
  get reusable(): boolean {
    return !this.closed && !this.crashed;
  }

  /**
   * Rejects the queued tasks and waits for the running ones: afterwards no worker writes for an
   * earlier caller (a transaction must not release its lock while its objects are being written).
   */
  async drain(): Promise<void> {
    for (const { id } of this.queue.splice(0)) {
      this.settled(id);
      this.pending.get(id)?.reject(new BridgeError('ABORTED', 'worker pool drained'));
      this.pending.delete(id);
    }
    this.wakeCapacityWaiters();
    if (this.running.size === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** Whether the worker threads keep the process alive (on while a transaction uses them). */
  setRef(ref: boolean): void {
    for (const w of this.workers) {
      if (ref) w.ref();
      else w.unref();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const { id } of this.queue.splice(0))
      this.pending.get(id)?.reject(new BridgeError('ABORTED', 'worker pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
