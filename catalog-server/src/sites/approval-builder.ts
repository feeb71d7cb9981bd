// Derives what a site's Approval says: its trust list and, for the newest version of every catalog
// that verifies under that trust list, the entries the site approved (explicitly, by endorser, or by
// an auto-approve rule) that enough trusted endorsers may endorse. Explicit revocations always win.
import { createHash } from 'node:crypto';
import {
  type ApprovalCatalogRef,
  type CatalogEntry,
  type EndorserScope,
  entryDigest,
  reasonsOf,
  ruleCovers,
  type SiteTrust,
  verifyCatalog,
} from '@trustswarm/policy';
import type { Reason } from '../errors.js';
import type { Services } from '../services.js';
import { latestVersions, signaturesOf } from '../storage/catalog-repo.js';
import { autoRulesOf, endorserApprovalsOf, entryApprovalsOf, type SiteRecord } from '../storage/site-repo.js';
import { effectiveEndorsers } from './trust.js';

export interface ApprovalContent {
  trust: SiteTrust;
  catalogs: ApprovalCatalogRef[];
  /** Catalogs left out because they do not verify under the site's trust list. */
  skipped: { catalogId: string; version: number; reasons: Reason[] }[];
  /** sha256 of trust + catalogs: a change means the document must be re-signed. */
  contentKey: string;
  entryNames: Map<string, string>;
}

const approvalKey = (catalogId: string, entryId: string, sha256: string) =>
  `${catalogId}/${entryId}/${sha256}`;

export async function buildApprovalContent(services: Services, site: SiteRecord): Promise<ApprovalContent> {
  const { db } = services;
  const endorsers = await effectiveEndorsers(db, site.name);
  const trust: SiteTrust = { threshold: site.threshold, endorsers: endorsers.map((e) => e.rule) };
  const decisions = new Map<string, 'approved' | 'revoked'>();
  for (const a of await entryApprovalsOf(db, site.name))
    decisions.set(approvalKey(a.catalogId, a.entryId, a.sha256), a.state);
  const approvedEndorsers = new Set(await endorserApprovalsOf(db, site.name));
  const autoRules = await autoRulesOf(db, site.name);
  const catalogs: ApprovalCatalogRef[] = [];
  const skipped: ApprovalContent['skipped'] = [];
  const entryNames = new Map<string, string>();

  for (const stored of await latestVersions(db)) {
    if (!services.anchors || trust.endorsers.length === 0) break;
    const signatures = (await signaturesOf(db, stored.catalogId, stored.version)).map((s) => s.der);
    let verified: ReturnType<typeof verifyCatalog>;
    try {
      verified = verifyCatalog({ bytes: stored.bytes, signatures }, trust, {
        anchors: services.anchors,
        now: services.clock(),
      });
    } catch (err) {
      skipped.push({ catalogId: stored.catalogId, version: stored.version, reasons: reasonsOf(err) });
      continue;
    }
    const entries: { id: string; sha256: string }[] = [];
    for (const entry of verified.catalog.entries) {
      const digest = entryDigest(entry);
      if (!digest) continue;
      const decision = decisions.get(approvalKey(stored.catalogId, entry.id, digest));
      if (decision === 'revoked') continue;
      const endorsing = verified.signers.filter((s) => s.rules.some((rule) => ruleCovers(rule, entry)));
      if (endorsing.length < trust.threshold) continue;
      const byEndorser = endorsing.some((s) => approvedEndorsers.has(s.identity.key));
      const byRule = autoRules.some((r) =>
        endorsing.some((s) => s.identity.key === r.identityKey && scopeCovers(r.scope, s.rules[0], entry)),
      );
      if (decision === 'approved' || byEndorser || byRule) {
        entries.push({ id: entry.id, sha256: digest });
        entryNames.set(`${stored.catalogId}/${entry.id}`, `${entry.name} ${entry.version}`);
      }
    }
    if (entries.length > 0) {
      entries.sort((a, b) => a.id.localeCompare(b.id));
      catalogs.push({ id: stored.catalogId, version: stored.version, sha256: stored.sha256, entries });
    }
  }
  catalogs.sort((a, b) => a.id.localeCompare(b.id));
  const contentKey = createHash('sha256').update(JSON.stringify({ trust, catalogs })).digest('hex');
  return { trust, catalogs, skipped, contentKey, entryNames };
}

/** Whether an auto-approve rule's scope covers the entry (same semantics as trust-list scopes). */
function scopeCovers(
  scope: { kinds?: string[]; voTags?: string[] },
  base: { issuer: string; subject: string } | undefined,
  entry: CatalogEntry,
): boolean {
  if (!base) return false;
  // scopes are checked against policy's scopeSchema when they are stored
  return ruleCovers({ issuer: base.issuer, subject: base.subject, scope: scope as EndorserScope }, entry);
}
