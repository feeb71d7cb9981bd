// The verification pipelines of the two signed document kinds. Signatures first, parsing
// after, then freshness and rollback; each step throws a TrustError with a stable code.

import { type Identity, identityKeyFromText } from './certificate.js';
import { type VerifiedSignature, verifyDetached } from './cms-verify.js';
import { DigestCache } from './digest-cache.js';
import { parseApproval, parseCatalog, parseTrustList } from './documents.js';
import { type Reason, reasonsOf, TrustError } from './errors.js';
import { requireFresh } from './freshness.js';
import {
  approvalKey,
  catalogKey,
  type HighWaterStore,
  raiseHighWater,
  requireNotOlder,
} from './high-water.js';
import { type PolicyLimits, withDefaults } from './limits.js';
import type { Approval, Catalog, EndorserRule, SiteTrust, TrustList } from './schema.js';
import { indexRules } from './scope.js';
import type { TrustAnchors } from './trust-anchors.js';

export interface SignedDocument {
  bytes: Uint8Array;
}

export interface VerifyContext {
  anchors: TrustAnchors;
  /** Digests computed during this call (internal; one is made when absent). */
  digests?: DigestCache;
  now?: Date;
  highWater?: HighWaterStore;
  limits?: Partial<PolicyLimits>;
}

export interface CatalogSigner extends VerifiedSignature {
  rules: EndorserRule[];
}

export interface VerifiedCatalog {
  catalog: Catalog;
  bytes: Uint8Array;
  sha256: string;
  /** Valid signatures from endorsers on the site's list, one per distinct identity. */
  signers: CatalogSigner[];
  /** Why other signature files were not counted (invalid, untrusted, duplicates). */
  ignoredSignatures: Reason[];
}

export interface VerifiedApproval {
  approval: Approval;
  bytes: Uint8Array;
  sha256: string;
  signer: VerifiedSignature;
}

/** A site signer pinned by issuer and subject DN (slash form). */
export interface IdentityRule {
  issuer: string;
  subject: string;
}

export function verifyCatalog(
  doc: SignedDocument & { signatures: Uint8Array[] },
  trust: SiteTrust,
  ctx: VerifyContext,
): VerifiedCatalog {
  const now = ctx.now ?? new Date();
  const limits = withDefaults(ctx.limits);
  const digests = ctx.digests ?? new DigestCache();
  const rulesByKey = indexRules(trust.endorsers);
  const signers = new Map<string, CatalogSigner>();
  const ignored: Reason[] = [];
  doc.signatures.forEach((sig, i) => {
    const label = `signature ${i + 1}`;
    try {
      const verified = verifyDetached(doc.bytes, sig, ctx.anchors, { now, digests });
      const rules = rulesByKey.get(verified.identity.key);
      if (!rules) {
        ignored.push({
          code: 'NOT_AUTHORISED_SIGNER',
          message: `${label}: ${verified.identity.subject} is not on the site's endorser list`,
        });
      } else if (signers.has(verified.identity.key)) {
        ignored.push({
          code: 'THRESHOLD_NOT_MET',
          message: `${label}: a second signature by ${verified.identity.subject} counts once`,
        });
      } else {
        signers.set(verified.identity.key, { ...verified, rules });
      }
    } catch (err) {
      for (const r of reasonsOf(err)) ignored.push({ code: r.code, message: `${label}: ${r.message}` });
    }
  });
  if (signers.size < trust.threshold) {
    throw new TrustError(
      'THRESHOLD_NOT_MET',
      `${signers.size} valid signature(s) from distinct trusted endorsers, ${trust.threshold} required`,
      {
        document: 'catalog.yaml',
        reasons: [
          {
            code: 'THRESHOLD_NOT_MET',
            message: `catalog.yaml: ${signers.size} of ${trust.threshold} required endorsers signed`,
          },
          ...ignored,
        ],
      },
    );
  }
  const catalog = parseCatalog(doc.bytes, { maxDocumentBytes: limits.maxDocumentBytes });
  requireFresh(catalog, now, limits.maxCatalogLifetimeSeconds, `catalog ${catalog.name} v${catalog.version}`);
  const sha256 = digests.sha256Hex(doc.bytes);
  requireNotOlder(
    ctx.highWater,
    catalogKey(catalog.id),
    { version: catalog.version, sha256 },
    `catalog ${catalog.name}`,
  );
  return { catalog, bytes: doc.bytes, sha256, signers: [...signers.values()], ignoredSignatures: ignored };
}

export function identityMatches(identity: Identity, rules: IdentityRule[]): boolean {
  return rules.some((rule) => identityKeyFromText(rule.issuer, rule.subject) === identity.key);
}

export function verifyApproval(
  doc: SignedDocument & { signature: Uint8Array },
  ctx: VerifyContext & { siteSigners: IdentityRule[]; site?: string },
): VerifiedApproval {
  const now = ctx.now ?? new Date();
  const limits = withDefaults(ctx.limits);
  const digests = ctx.digests ?? new DigestCache();
  if (ctx.siteSigners.length === 0) {
    throw new TrustError('NOT_AUTHORISED_SIGNER', 'no site signer is configured; refusing every approval', {
      document: 'approval.yaml',
    });
  }
  let signer: VerifiedSignature;
  try {
    signer = verifyDetached(doc.bytes, doc.signature, ctx.anchors, { now, digests });
  } catch (err) {
    if (err instanceof TrustError)
      throw new TrustError(err.code, err.message, { document: 'approval.yaml.p7s' });
    throw err;
  }
  if (!identityMatches(signer.identity, ctx.siteSigners)) {
    throw new TrustError(
      'NOT_AUTHORISED_SIGNER',
      `${signer.identity.subject} is not a configured site signer`,
      {
        document: 'approval.yaml.p7s',
      },
    );
  }
  const approval = parseApproval(doc.bytes, { maxDocumentBytes: limits.maxDocumentBytes });
  if (ctx.site !== undefined && approval.site !== ctx.site) {
    throw new TrustError('WRONG_SITE', `approval is for site ${approval.site}, expected ${ctx.site}`, {
      document: 'approval.yaml',
    });
  }
  requireFresh(
    approval,
    now,
    limits.maxApprovalLifetimeSeconds,
    `approval of ${approval.site} v${approval.version}`,
  );
  const sha256 = digests.sha256Hex(doc.bytes);
  requireNotOlder(
    ctx.highWater,
    approvalKey(approval.site),
    { version: approval.version, sha256 },
    `approval of ${approval.site}`,
  );
  return { approval, bytes: doc.bytes, sha256, signer };
}

export interface VerifiedTrustList {
  trustList: TrustList;
  bytes: Uint8Array;
  sha256: string;
  signer: VerifiedSignature;
}

/**
 * A signed endorser list a site subscribes to (e.g. a federation's list): signature by one
 * of the publishers the site pinned, fresh, and never older than the last one applied.
 */
export function verifyTrustList(
  doc: SignedDocument & { signature: Uint8Array },
  ctx: VerifyContext & { publishers: IdentityRule[]; maxLifetimeSeconds?: number },
): VerifiedTrustList {
  const now = ctx.now ?? new Date();
  const limits = withDefaults(ctx.limits);
  const digests = ctx.digests ?? new DigestCache();
  if (ctx.publishers.length === 0) {
    throw new TrustError('NOT_AUTHORISED_SIGNER', 'no trust-list publisher is configured', {
      document: 'trust list',
    });
  }
  const signer = verifyDetached(doc.bytes, doc.signature, ctx.anchors, { now, digests });
  if (!identityMatches(signer.identity, ctx.publishers)) {
    throw new TrustError(
      'NOT_AUTHORISED_SIGNER',
      `${signer.identity.subject} is not a configured trust-list publisher`,
      {
        document: 'trust list',
      },
    );
  }
  const trustList = parseTrustList(doc.bytes, { maxDocumentBytes: limits.maxDocumentBytes });
  requireFresh(
    trustList,
    now,
    ctx.maxLifetimeSeconds ?? limits.maxCatalogLifetimeSeconds,
    `trust list ${trustList.name}`,
  );
  const sha256 = digests.sha256Hex(doc.bytes);
  const key = `trustlist:${trustList.name}`;
  requireNotOlder(ctx.highWater, key, { version: trustList.version, sha256 }, `trust list ${trustList.name}`);
  raiseHighWater(ctx.highWater, key, { version: trustList.version, sha256 });
  return { trustList, bytes: doc.bytes, sha256, signer };
}
