// Digests of documents computed once per verification call: a catalog with three
// signatures is hashed once, not four times. Scoped to one call, never global, so bytes
// changed between two calls are always hashed again.

import { createHash } from 'node:crypto';

export class DigestCache {
  private readonly digests = new WeakMap<Uint8Array, Map<string, Buffer>>();

  digest(bytes: Uint8Array, algorithm: string): Buffer {
    let byAlg = this.digests.get(bytes);
    if (!byAlg) {
      byAlg = new Map();
      this.digests.set(bytes, byAlg);
    }
    let d = byAlg.get(algorithm);
    if (!d) {
      d = createHash(algorithm).update(bytes).digest();
      byAlg.set(algorithm, d);
    }
    return d;
  }

  sha256Hex(bytes: Uint8Array): string {
    return this.digest(bytes, 'sha256').toString('hex');
  }
}
