// Keeps the agent's view of what the site approves: polls the approval with If-None-Match,
// checks it, fetches the approved catalogs (pinned by sha256) with their endorser
// signatures, lets policy decide, and caches the verified bundle on disk so that with the
// server down the agent keeps the last verified approval (re-verified at start) until it
// expires.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isTrustError } from '@trustswarm/policy';
import { errorMessage, FetchError } from './errors.js';
import { type LayoutClient, sha256Hex } from './layout-client.js';
import type {
  ApprovedEntry,
  CatalogRef,
  SignedApproval,
  SignedCatalog,
  SiteVerifier,
  VerifiedSite,
} from './verify/site-verifier.js';

export type SyncOutcome =
  | { kind: 'updated' | 'unchanged' | 'restored' }
  | { kind: 'refused' | 'unreachable'; code: string; message: string };

/** Where a catalog's signatures are: a list of signer-certificate sha256 values. */
const SIGNATURE_INDEX = 'index.json';
const HEX64 = /^[0-9a-f]{64}$/;

interface CachedBundle {
  catalogs: { sha256: string; signers: string[] }[];
}

async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  await writeFile(`${path}.tmp`, bytes);
  await rename(`${path}.tmp`, path);
}

function outcomeOf(err: unknown, fallback: 'refused' | 'unreachable'): SyncOutcome {
  if (isTrustError(err)) return { kind: 'refused', code: err.code, message: err.message };
  if (err instanceof FetchError) {
    const unreachable = err.code === 'FETCH_FAILED' || err.code === 'FETCH_TIMEOUT';
    return { kind: unreachable ? 'unreachable' : 'refused', code: err.code, message: err.message };
  }
  return { kind: fallback, code: 'VERIFY_FAILED', message: errorMessage(err) };
}

export class SiteSync {
  private current: VerifiedSite | undefined;
  private etag: string | undefined;

  constructor(
    private readonly site: string,
    private readonly layout: LayoutClient,
    private readonly verifier: SiteVerifier,
    private readonly cacheDir: string,
    private readonly maxSignaturesPerCatalog: number,
  ) {}

  /** Entries approved right now; none once the approval has expired. */
  approvedEntries(now: Date): ApprovedEntry[] {
    if (!this.current || this.current.expiresAt.getTime() <= now.getTime()) return [];
    return this.current.entries;
  }

  get verified(): VerifiedSite | undefined {
    return this.current;
  }

  /** Re-verifies the cached bundle from the last run (degraded start without the server). */
  async restore(now: Date): Promise<SyncOutcome> {
    try {
      const doc = {
        bytes: await readFile(join(this.cacheDir, 'approval.yaml')),
        signature: await readFile(join(this.cacheDir, 'approval.yaml.p7s')),
      };
      const bundle = JSON.parse(await readFile(join(this.cacheDir, 'bundle.json'), 'utf8')) as CachedBundle;
      const catalogs: SignedCatalog[] = [];
      for (const c of bundle.catalogs) {
        const bytes = await readFile(join(this.cacheDir, 'catalogs', `${c.sha256}.yaml`));
        const signatures = await Promise.all(
          c.signers.map((s) => readFile(join(this.cacheDir, 'catalogs', c.sha256, `${s}.p7s`))),
        );
        catalogs.push({ bytes, signatures });
      }
      this.current = this.verifier.evaluate(doc, catalogs, now);
      return { kind: 'restored' };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { kind: 'refused', code: 'STATE_INVALID', message: 'no cached approval yet' };
      }
      return outcomeOf(err, 'refused');
    }
  }

  async refresh(now: Date): Promise<SyncOutcome> {
    const paths = this.layout.approvalPaths(this.site);
    const limits = this.layout.limits;
    let doc: SignedApproval;
    let etag: string | undefined;
    try {
      const fetched = await this.layout.get(
        paths.doc,
        limits.maxApprovalBytes,
        this.current ? this.etag : undefined,
      );
      if (fetched.status === 'not-modified') return { kind: 'unchanged' };
      etag = fetched.etag;
      doc = {
        bytes: fetched.bytes,
        signature: await this.layout.getBytes(paths.sig, limits.maxSignatureBytes),
      };
    } catch (err) {
      return outcomeOf(err, 'unreachable');
    }
    if (this.current && sha256Hex(doc.bytes) === this.current.sha256) {
      this.etag = etag;
      return { kind: 'unchanged' };
    }
    try {
      const { catalogs: refs } = this.verifier.readApproval(doc, now);
      const fetched = await Promise.all(refs.map((ref) => this.fetchSignedCatalog(ref)));
      const next = this.verifier.evaluate(
        doc,
        fetched.map((f) => f.catalog),
        now,
      );
      await this.saveCache(doc, fetched);
      this.current = next;
      this.etag = etag;
      return { kind: 'updated' };
    } catch (err) {
      return outcomeOf(err, 'refused');
    }
  }

  private async fetchSignedCatalog(
    ref: CatalogRef,
  ): Promise<{ sha256: string; signers: string[]; catalog: SignedCatalog }> {
    const limits = this.layout.limits;
    const base = `catalogs/${encodeURIComponent(ref.id)}/${ref.version}`;
    const bytes = await this.layout.getPinned(`${base}/catalog.yaml`, limits.maxCatalogBytes, ref.sha256);
    const index = await this.layout.getBytes(
      `${base}/signatures/${SIGNATURE_INDEX}`,
      limits.maxSignatureBytes,
    );
    let signers: unknown;
    try {
      signers = JSON.parse(index.toString('utf8'));
    } catch {
      throw new FetchError('VERIFY_FAILED', `${base}/signatures/${SIGNATURE_INDEX} is not JSON`);
    }
    if (
      !Array.isArray(signers) ||
      !signers.every((s): s is string => typeof s === 'string' && HEX64.test(s))
    ) {
      throw new FetchError(
        'VERIFY_FAILED',
        `${base}/signatures/${SIGNATURE_INDEX}: expected a list of sha256 hex values`,
      );
    }
    if (signers.length > this.maxSignaturesPerCatalog) {
      throw new FetchError(
        'FETCH_TOO_LARGE',
        `${base}: ${signers.length} signatures, limit ${this.maxSignaturesPerCatalog}`,
      );
    }
    const signatures = await Promise.all(
      signers.map((s) => this.layout.getBytes(`${base}/signatures/${s}.p7s`, limits.maxSignatureBytes)),
    );
    return { sha256: ref.sha256, signers, catalog: { bytes, signatures } };
  }

  private async saveCache(
    doc: SignedApproval,
    catalogs: { sha256: string; signers: string[]; catalog: SignedCatalog }[],
  ): Promise<void> {
    // An approval may list no catalog (a new site, every entry revoked): the directory is
    // then made here, not only as a side effect of caching a catalog.
    await mkdir(this.cacheDir, { recursive: true });
    for (const c of catalogs) {
      const dir = join(this.cacheDir, 'catalogs', c.sha256);
      await mkdir(dir, { recursive: true });
      await writeAtomic(join(this.cacheDir, 'catalogs', `${c.sha256}.yaml`), c.catalog.bytes);
      for (const [i, signer] of c.signers.entries()) {
        const sig = c.catalog.signatures[i];
        if (sig) await writeAtomic(join(dir, `${signer}.p7s`), sig);
      }
    }
    const bundle: CachedBundle = {
      catalogs: catalogs.map((c) => ({ sha256: c.sha256, signers: c.signers })),
    };
    await writeAtomic(join(this.cacheDir, 'bundle.json'), JSON.stringify(bundle));
    await writeAtomic(join(this.cacheDir, 'approval.yaml.p7s'), doc.signature);
    await writeAtomic(join(this.cacheDir, 'approval.yaml'), doc.bytes);
  }
}
