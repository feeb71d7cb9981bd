// Keeps the agent's view of what the site approves: polls the approval with If-None-Match,
// verifies it, fetches the approved catalogs pinned by sha256, and caches the verified
// bundle on disk so that, with the server down, the agent keeps the last verified approval
// (re-verified at start) until it expires.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, errorMessage } from './errors.js';
import { type LayoutClient, sha256Hex } from './layout-client.js';
import type { ApprovedEntry, SiteVerifier, VerifiedApproval } from './verify/site-verifier.js';

export type SyncOutcome =
  | { kind: 'updated' | 'unchanged' | 'restored' }
  | { kind: 'refused' | 'unreachable'; code: string; message: string };

interface Current {
  verified: VerifiedApproval;
  entries: ApprovedEntry[];
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await writeFile(`${path}.tmp`, bytes);
  await rename(`${path}.tmp`, path);
}

export class SiteSync {
  private current: Current | undefined;
  private etag: string | undefined;

  constructor(
    private readonly site: string,
    private readonly layout: LayoutClient,
    private readonly verifier: SiteVerifier,
    private readonly cacheDir: string,
  ) {}

  /** Entries approved right now; none once the approval has expired. */
  approvedEntries(now: Date): ApprovedEntry[] {
    if (!this.current || this.current.verified.approval.expires.getTime() <= now.getTime()) return [];
    return this.current.entries;
  }

  get approval(): VerifiedApproval | undefined {
    return this.current?.verified;
  }

  /** Re-verifies the cached bundle from the last run (degraded start without the server). */
  async restore(now: Date): Promise<SyncOutcome> {
    try {
      const bytes = await readFile(join(this.cacheDir, 'approval.yaml'));
      const signature = await readFile(join(this.cacheDir, 'approval.yaml.p7s'));
      this.current = await this.verifyBundle({ bytes, signature }, now, async (sha256) =>
        readFile(join(this.cacheDir, 'catalogs', `${sha256}.yaml`)),
      );
      return { kind: 'restored' };
    } catch (err) {
      const code = err instanceof AgentError ? err.code : 'STATE_INVALID';
      return { kind: 'refused', code, message: `cached approval not usable: ${errorMessage(err)}` };
    }
  }

  async refresh(now: Date): Promise<SyncOutcome> {
    const paths = this.layout.approvalPaths(this.site);
    const limits = this.layout.limits;
    let bytes: Buffer;
    let signature: Buffer;
    let etag: string | undefined;
    try {
      const doc = await this.layout.get(
        paths.doc,
        limits.maxApprovalBytes,
        this.current ? this.etag : undefined,
      );
      if (doc.status === 'not-modified') return { kind: 'unchanged' };
      bytes = doc.bytes;
      etag = doc.etag;
      signature = await this.layout.getBytes(paths.sig, limits.maxSignatureBytes);
    } catch (err) {
      const code = err instanceof AgentError ? err.code : 'FETCH_FAILED';
      return { kind: 'unreachable', code, message: errorMessage(err) };
    }
    if (this.current && sha256Hex(bytes) === this.current.verified.sha256) {
      this.etag = etag;
      return { kind: 'unchanged' };
    }
    try {
      const next = await this.verifyBundle({ bytes, signature }, now, (sha256, path) =>
        this.fetchCatalog(path, sha256),
      );
      await this.saveCache(bytes, signature);
      this.current = next;
      this.etag = etag;
      return { kind: 'updated' };
    } catch (err) {
      const code = err instanceof AgentError ? err.code : 'VERIFY_FAILED';
      const kind = code === 'FETCH_FAILED' || code === 'FETCH_TIMEOUT' ? 'unreachable' : 'refused';
      return { kind, code, message: errorMessage(err) };
    }
  }

  private async verifyBundle(
    doc: { bytes: Uint8Array; signature: Uint8Array },
    now: Date,
    loadCatalog: (sha256: string, path: string) => Promise<Uint8Array>,
  ): Promise<Current> {
    const verified = await this.verifier.verifyApproval(doc, now);
    const entries: ApprovedEntry[] = [];
    for (const ref of verified.approval.catalogs) {
      const catalogBytes = await loadCatalog(ref.sha256, this.layout.catalogPath(ref.id, ref.version));
      entries.push(...this.verifier.approvedEntries(verified, catalogBytes, ref.id, now));
    }
    return { verified, entries };
  }

  private async fetchCatalog(path: string, sha256: string): Promise<Uint8Array> {
    const cached = join(this.cacheDir, 'catalogs', `${sha256}.yaml`);
    try {
      const bytes = await readFile(cached);
      if (sha256Hex(bytes) === sha256) return bytes;
    } catch {
      // not cached yet
    }
    const bytes = await this.layout.getPinned(path, this.layout.limits.maxCatalogBytes, sha256);
    await mkdir(join(this.cacheDir, 'catalogs'), { recursive: true });
    await writeAtomic(cached, bytes);
    return bytes;
  }

  private async saveCache(bytes: Uint8Array, signature: Uint8Array): Promise<void> {
    await mkdir(this.cacheDir, { recursive: true });
    await writeAtomic(join(this.cacheDir, 'approval.yaml.p7s'), signature);
    await writeAtomic(join(this.cacheDir, 'approval.yaml'), bytes);
  }
}
