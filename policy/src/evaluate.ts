// The one decision an agent or bridge needs: which entries may be used. An entry is allowed
// only when the approval is valid and fresh, names this exact catalog digest, the catalog
// is validly endorsed by enough distinct trusted endorsers whose scope covers the entry,
// nothing was rolled back, and the entry's hash agrees in catalog and approval.

import { DigestCache } from './digest-cache.js';
import { type Reason, reasonsOf } from './errors.js';
import { approvalKey, catalogKey, raiseHighWater } from './high-water.js';
import type { ApprovalCatalogRef, CatalogEntry } from './schema.js';
import { ruleCovers } from './scope.js';
import {
  type IdentityRule,
  type SignedDocument,
  type VerifiedApproval,
  type VerifiedCatalog,
  type VerifyContext,
  verifyApproval,
  verifyCatalog,
} from './verify.js';

export interface EvaluateInput extends VerifyContext {
  approval: SignedDocument & { signature: Uint8Array };
  /** The catalogs the approval names (any order; extra ones are ignored). */
  catalogs: Array<SignedDocument & { signatures: Uint8Array[] }>;
  siteSigners: IdentityRule[];
  site?: string;
}

export interface EntryDecision {
  catalogId: string;
  catalogVersion: number;
  entryId: string;
  entry: CatalogEntry | undefined;
  allowed: boolean;
  reasons: Reason[];
}

export interface CatalogDecision {
  ref: ApprovalCatalogRef;
  verified: VerifiedCatalog | undefined;
  reasons: Reason[];
}

export interface Evaluation {
  approval: VerifiedApproval;
  catalogs: CatalogDecision[];
  entries: EntryDecision[];
  /** The allowed entries only, for convenience. */
  allowed: EntryDecision[];
}

/** The hash an approval pins for an entry: the artifact sha256, or the OCI manifest digest. */
export function entryDigest(entry: CatalogEntry): string | undefined {
  if (entry.artifact) return entry.artifact.sha256;
  if (entry.oci) return entry.oci.digest.replace(/^sha256:/, '');
  return undefined;
}

interface CatalogIndex {
  byId: Map<string, CatalogEntry>;
  signers: VerifiedCatalog['signers'];
  /** Signers with at least one unscoped rule: they cover every entry. */
  unscopedSigners: number;
}

function indexCatalog(verified: VerifiedCatalog): CatalogIndex {
  return {
    byId: new Map(verified.catalog.entries.map((e) => [e.id, e])),
    signers: verified.signers,
    unscopedSigners: verified.signers.filter((s) => s.rules.some((r) => !r.scope)).length,
  };
}

function endorsersCovering(index: CatalogIndex, entry: CatalogEntry): number {
  if (index.unscopedSigners === index.signers.length) return index.signers.length;
  return index.signers.filter((s) => s.rules.some((rule) => ruleCovers(rule, entry))).length;
}

function decideEntry(
  ref: ApprovalCatalogRef,
  approved: { id: string; sha256: string },
  index: CatalogIndex,
  threshold: number,
): EntryDecision {
  const entry = index.byId.get(approved.id);
  if (!entry) {
    const reasons: Reason[] = [
      { code: 'ENTRY_MISSING', message: `entry ${approved.id} is approved but not in the catalog` },
    ];
    return {
      catalogId: ref.id,
      catalogVersion: ref.version,
      entryId: approved.id,
      entry,
      allowed: false,
      reasons,
    };
  }
  const reasons: Reason[] = [];
  const digest = entryDigest(entry);
  if (digest !== approved.sha256) {
    reasons.push({
      code: 'ENTRY_HASH_MISMATCH',
      message: `entry ${entry.name}: approval pins ${approved.sha256}, catalog has ${digest ?? 'none'}`,
    });
  }
  const endorsing = endorsersCovering(index, entry);
  if (endorsing < threshold) {
    const vo = entry.voTags?.length ? ` for VO ${entry.voTags.join(',')}` : '';
    reasons.push({
      code: 'SCOPE_DENIED',
      message: `entry ${entry.name}: ${endorsing} of ${threshold} required endorsers may endorse kind ${entry.kind}${vo}`,
    });
  }
  return {
    catalogId: ref.id,
    catalogVersion: ref.version,
    entryId: approved.id,
    entry,
    allowed: reasons.length === 0,
    reasons,
  };
}

function checkCatalog(
  ref: ApprovalCatalogRef,
  docsBySha: Map<string, SignedDocument & { signatures: Uint8Array[] }>,
  input: EvaluateInput,
  approval: VerifiedApproval,
): CatalogDecision {
  const doc = docsBySha.get(ref.sha256);
  if (!doc) {
    return {
      ref,
      verified: undefined,
      reasons: [
        {
          code: 'CATALOG_DIGEST_MISMATCH',
          message: `no catalog with the approved digest ${ref.sha256} (catalog ${ref.id} v${ref.version})`,
        },
      ],
    };
  }
  try {
    const verified = verifyCatalog(doc, approval.approval.trust, input);
    const reasons: Reason[] = [];
    if (verified.catalog.id !== ref.id || verified.catalog.version !== ref.version) {
      reasons.push({
        code: 'CATALOG_VERSION_MISMATCH',
        message: `approval names catalog ${ref.id} v${ref.version}, the bytes are ${verified.catalog.id} v${verified.catalog.version}`,
      });
    }
    return { ref, verified: reasons.length ? undefined : verified, reasons };
  } catch (err) {
    return { ref, verified: undefined, reasons: reasonsOf(err) };
  }
}

export function evaluate(callInput: EvaluateInput): Evaluation {
  const input = { ...callInput, digests: new DigestCache() };
  const approval = verifyApproval(input.approval, input);
  const docsBySha = new Map(input.catalogs.map((c) => [input.digests.sha256Hex(c.bytes), c]));
  const catalogs: CatalogDecision[] = [];
  const entries: EntryDecision[] = [];
  const threshold = approval.approval.trust.threshold;
  for (const ref of approval.approval.catalogs) {
    const decision = checkCatalog(ref, docsBySha, input, approval);
    catalogs.push(decision);
    const verified = decision.verified;
    if (!verified) {
      for (const e of ref.entries) {
        entries.push({
          catalogId: ref.id,
          catalogVersion: ref.version,
          entryId: e.id,
          entry: undefined,
          allowed: false,
          reasons: decision.reasons,
        });
      }
      continue;
    }
    const index = indexCatalog(verified);
    for (const approved of ref.entries) entries.push(decideEntry(ref, approved, index, threshold));
    const approvedIds = new Set(ref.entries.map((e) => e.id));
    for (const entry of verified.catalog.entries) {
      if (approvedIds.has(entry.id)) continue;
      entries.push({
        catalogId: ref.id,
        catalogVersion: ref.version,
        entryId: entry.id,
        entry,
        allowed: false,
        reasons: [
          {
            code: 'NOT_APPROVED',
            message: `entry ${entry.name} is not approved by site ${approval.approval.site}`,
          },
        ],
      });
    }
  }
  // Only now, with every check done, remember what was accepted (tuf-js order).
  raiseHighWater(input.highWater, approvalKey(approval.approval.site), {
    version: approval.approval.version,
    sha256: approval.sha256,
  });
  for (const c of catalogs) {
    if (c.verified)
      raiseHighWater(input.highWater, catalogKey(c.verified.catalog.id), {
        version: c.verified.catalog.version,
        sha256: c.verified.sha256,
      });
  }
  return { approval, catalogs, entries, allowed: entries.filter((e) => e.allowed) };
}
