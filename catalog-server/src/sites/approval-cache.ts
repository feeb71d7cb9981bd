// The hot path of the static layout: each site's current approval bytes, signature and ETags kept
// in memory, re-read from storage after cacheSeconds (other replicas may have re-signed).
import { createHash } from 'node:crypto';
import type { Db } from '../storage/db.js';
import { latestApprovalDoc } from '../storage/site-repo.js';

export interface CachedApproval {
  version: number;
  bytes: Buffer;
  signature: Buffer;
  etag: string;
  signatureEtag: string;
  loadedAt: number;
}

const etagOf = (b: Uint8Array) => `"${createHash('sha256').update(b).digest('hex')}"`;

export class ApprovalCache {
  private readonly entries = new Map<string, CachedApproval>();

  constructor(
    private readonly db: Db,
    private readonly cacheMs: number,
  ) {}

  invalidate(site: string): void {
    this.entries.delete(site);
  }

  /** The cached approval; undefined when the site has none. Synchronous when warm. */
  get(site: string): CachedApproval | undefined | Promise<CachedApproval | undefined> {
    const hit = this.entries.get(site);
    if (hit && Date.now() - hit.loadedAt < this.cacheMs) return hit;
    return this.load(site);
  }

  private async load(site: string): Promise<CachedApproval | undefined> {
    const doc = await latestApprovalDoc(this.db, site);
    if (!doc) {
      this.entries.delete(site);
      return undefined;
    }
    const entry: CachedApproval = {
      version: doc.version,
      bytes: doc.bytes,
      signature: doc.signature,
      etag: etagOf(doc.bytes),
      signatureEtag: etagOf(doc.signature),
      loadedAt: Date.now(),
    };
    this.entries.set(site, entry);
    return entry;
  }
}
