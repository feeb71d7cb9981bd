// Per-client limits of the origin: concurrent downloads per client and overall, and one byte-rate
// budget per client shared by all its streams, so a site-wide rollout cannot saturate the origin.
import { Transform, type TransformCallback } from 'node:stream';

export interface OriginLimits {
  maxConcurrentPerClient: number;
  maxConcurrentTotal: number;
  clientRateBytesPerSecond: number;
}

export type Refusal = 'client-busy' | 'origin-busy';

export class OriginLimiter {
  private readonly active = new Map<string, number>();
  private total = 0;
  /** Per client: time (ms) at which its rate budget is next free. */
  private readonly nextFreeAt = new Map<string, number>();

  constructor(private readonly limits: OriginLimits) {}

  /** A release function, or the reason the request must wait (HTTP 429/503). */
  acquire(client: string): (() => void) | Refusal {
    const mine = this.active.get(client) ?? 0;
    if (mine >= this.limits.maxConcurrentPerClient) return 'client-busy';
    if (this.total >= this.limits.maxConcurrentTotal) return 'origin-busy';
    this.active.set(client, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.active.get(client) ?? 1) - 1;
      if (left <= 0) {
        this.active.delete(client);
        this.nextFreeAt.delete(client);
      } else this.active.set(client, left);
    };
  }

  /** A pass-through that delays chunks to keep the client under its byte rate (none when unlimited). */
  throttle(client: string): Transform | undefined {
    const rate = this.limits.clientRateBytesPerSecond;
    if (rate <= 0) return undefined;
    return new Transform({
      transform: (chunk: Buffer, _encoding, done: TransformCallback) => {
        const now = Date.now();
        const start = Math.max(now, this.nextFreeAt.get(client) ?? now);
        this.nextFreeAt.set(client, start + (chunk.length / rate) * 1000);
        const delayMs = start - now;
        if (delayMs <= 0) done(null, chunk);
        else setTimeout(() => done(null, chunk), delayMs);
      },
    });
  }
}
