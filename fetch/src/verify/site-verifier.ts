// The agent's one verification door, on @trustswarm/policy. An entry is used only when
// policy.evaluate() allows it: approval signed by a configured site signer and fresh,
// catalog bytes pinned by the approval, endorser signatures valid, unrevoked and meeting
// the site's threshold and scope, nothing rolled back, hashes agreeing.

import {
  type CatalogEntry,
  evaluate,
  FileHighWaterStore,
  type IdentityRule,
  loadTrustAnchors,
  type Reason,
  type TrustAnchorSource,
  type TrustAnchors,
  verifyApproval,
} from '@trustswarm/policy';

export interface VerifierConfig {
  site: string;
  caPath: string;
  crlPolicy: NonNullable<TrustAnchorSource['crlPolicy']>;
  siteSigners: IdentityRule[];
  highWaterPath: string;
}

export interface SignedApproval {
  bytes: Uint8Array;
  signature: Uint8Array;
}

export interface SignedCatalog {
  bytes: Uint8Array;
  signatures: Uint8Array[];
}

export interface ApprovedEntry {
  catalogId: string;
  catalogVersion: number;
  entry: CatalogEntry;
}

export interface RefusedEntry {
  catalogId: string;
  entryId: string;
  reasons: Reason[];
}

export interface CatalogRef {
  id: string;
  version: number;
  sha256: string;
}

export interface VerifiedSite {
  site: string;
  version: number;
  expiresAt: Date;
  sha256: string;
  entries: ApprovedEntry[];
  /** Approved by the site but refused by policy (bad endorsement, scope, hash...). */
  refused: RefusedEntry[];
}

export interface SiteVerifier {
  /** Checks the approval alone (signature, signer, site, freshness, rollback) to learn its catalogs. */
  readApproval(doc: SignedApproval, now: Date): { version: number; catalogs: CatalogRef[] };
  /** The full decision; records the new high-water marks only when it succeeds. */
  evaluate(doc: SignedApproval, catalogs: SignedCatalog[], now: Date): VerifiedSite;
}

export class PolicySiteVerifier implements SiteVerifier {
  private readonly highWater: FileHighWaterStore;

  constructor(private readonly config: VerifierConfig) {
    this.highWater = new FileHighWaterStore(config.highWaterPath);
  }

  // Re-read each time: fetch-crl and CA updates replace files in the CApath while we run.
  private anchors(): TrustAnchors {
    return loadTrustAnchors({ caPath: this.config.caPath, crlPolicy: this.config.crlPolicy });
  }

  readApproval(doc: SignedApproval, now: Date): { version: number; catalogs: CatalogRef[] } {
    const verified = verifyApproval(doc, {
      anchors: this.anchors(),
      now,
      highWater: this.highWater,
      siteSigners: this.config.siteSigners,
      site: this.config.site,
    });
    const { approval } = verified;
    return {
      version: approval.version,
      catalogs: approval.catalogs.map((c) => ({ id: c.id, version: c.version, sha256: c.sha256 })),
    };
  }

  evaluate(doc: SignedApproval, catalogs: SignedCatalog[], now: Date): VerifiedSite {
    const evaluation = evaluate({
      approval: doc,
      catalogs,
      anchors: this.anchors(),
      now,
      highWater: this.highWater,
      siteSigners: this.config.siteSigners,
      site: this.config.site,
    });
    const { approval, sha256 } = evaluation.approval;
    const entries: ApprovedEntry[] = [];
    const refused: RefusedEntry[] = [];
    const approvedIds = new Set(approval.catalogs.flatMap((c) => c.entries.map((e) => e.id)));
    for (const d of evaluation.entries) {
      if (d.allowed && d.entry)
        entries.push({ catalogId: d.catalogId, catalogVersion: d.catalogVersion, entry: d.entry });
      else if (approvedIds.has(d.entryId))
        refused.push({ catalogId: d.catalogId, entryId: d.entryId, reasons: d.reasons });
    }
    return {
      site: approval.site,
      version: approval.version,
      expiresAt: new Date(approval.expires),
      sha256,
      entries,
      refused,
    };
  }
}
