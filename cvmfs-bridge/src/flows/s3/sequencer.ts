// The per-repository sequencer: changes queue in arrival order and leave in batches (after
// `batchDelayMs` from the first waiting change, or at once when `batchMaxEvents` wait).
// Batches commit strictly one after another; the next batch may prepare (download) while the
// previous one commits, and at most one prepared batch waits. A failed batch, and the one
// prepared behind it, go back into the queue in arrival order and retry after a backoff.

export interface SequencerHooks<I, P> {
  readonly batchDelayMs: number;
  readonly batchMaxEvents: number;
  /** Items still worth processing when their batch starts (others are dropped). */
  keep(item: I): boolean;
  prepare(batch: I[]): Promise<P>;
  commit(batch: I[], prepared: P): Promise<void>;
  /** Always called once a prepared batch is done with (committed, failed or put back). */
  release(prepared: P): Promise<void>;
  onRetry(error: unknown, retryMs: number): void;
}

interface Queued<I> {
  readonly item: I;
  readonly order: number;
  readonly arrivedAt: number;
}

export class Sequencer<I, P> {
  private items: Queued<I>[] = [];
  private staging = false;
  private waiting = false;
  /** Settles true when the last started batch committed, false when it failed. */
  private tail: Promise<boolean> = Promise.resolve(true);
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private nextOrder = 0;
  private stopped = false;

  constructor(private readonly hooks: SequencerHooks<I, P>) {}

  get length(): number {
    return this.items.length;
  }

  push(item: I): void {
    this.items.push({ item, order: this.nextOrder++, arrivedAt: Date.now() });
    this.schedule();
  }

  /** Stops taking batches and waits for the running ones. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const deadline = Date.now() + timeoutMs;
    while ((this.staging || this.waiting) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await this.tail;
  }

  private schedule(retryMs?: number): void {
    if (this.staging || this.waiting || this.items.length === 0 || this.stopped) return;
    clearTimeout(this.timer);
    const first = this.items[0]?.arrivedAt ?? Date.now();
    const due =
      retryMs ??
      (this.items.length >= this.hooks.batchMaxEvents ? 0 : first + this.hooks.batchDelayMs - Date.now());
    this.timer = setTimeout(() => void this.run(), Math.max(0, due));
  }

  /** Puts a batch back in arrival order; returns the backoff before the next attempt. */
  private putBack(batch: Queued<I>[], error: unknown): number {
    this.items = [...batch, ...this.items].sort((a, b) => a.order - b.order);
    this.failures++;
    const retryMs = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
    if (error !== undefined) this.hooks.onRetry(error, retryMs);
    return retryMs;
  }

  private async run(): Promise<void> {
    if (this.staging || this.waiting || this.stopped) return;
    this.staging = true;
    const batch = this.items.splice(0, this.hooks.batchMaxEvents).filter((q) => this.hooks.keep(q.item));
    const items = batch.map((q) => q.item);
    const previous = this.tail;
    let finish: (ok: boolean) => void = () => {};
    const mine = new Promise<boolean>((resolve) => {
      finish = resolve;
    });
    this.tail = mine;
    let retryMs: number | undefined;
    let prepared: { value: P } | undefined;
    try {
      prepared = { value: await this.hooks.prepare(items) };
    } catch (error) {
      retryMs = this.putBack(batch, error);
    }
    this.staging = false;
    this.waiting = true;
    const previousOk = await previous;
    this.waiting = false;
    let commitFailed = false;
    if (prepared && !previousOk) {
      // Keep the order: this batch goes back behind the failed one and retries after it.
      retryMs = this.putBack(batch, undefined);
    } else if (prepared) {
      try {
        const committing = this.hooks.commit(items, prepared.value);
        this.schedule(); // the next batch prepares while this one commits
        await committing;
        this.failures = 0;
      } catch (error) {
        commitFailed = true;
        retryMs = this.putBack(batch, error);
      }
    }
    if (prepared) await this.hooks.release(prepared.value);
    // A failed commit makes the batch prepared behind it (if any) step back; after that, or
    // when none started, the chain is clean again for the retry.
    finish(!commitFailed);
    if (commitFailed && this.tail === mine) this.tail = Promise.resolve(true);
    this.schedule(retryMs);
  }
}
