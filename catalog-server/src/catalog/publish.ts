// Publishing a catalog version: signatures first (every reason on failure), then parse, freshness,
// and the version rules (identical bytes idempotent, other bytes for the same version = equivocation,
// never lower than the newest). Bytes, signatures and the entry index commit in one transaction.
import {
  type Catalog,
  DEFAULT_LIMITS,
  entryDigest,
  parseCatalog,
  reasonsOf,
  requireFresh,
  sha256Hex,
} from '@trustswarm/policy';
import { appendAudit } from '../audit/chain.js';
import type { Principal } from '../auth/authorize.js';
import { ApiError, conflict, notFound, unprocessable } from '../errors.js';
import { actorOf } from '../http/auth-plugin.js';
import type { Services } from '../services.js';
import {
  catalogById,
  insertEntries,
  insertSignature,
  insertVersion,
  signaturesOf,
  upsertCatalog,
  versionOf,
} from '../storage/catalog-repo.js';
import type { SqlExecutor } from '../storage/db.js';
import { type AcceptedSignature, checkSignatures, knownSigners } from './signatures.js';

export interface SignatureSummary {
  signerCertSha256: string;
  subject: string;
  issuer: string;
}

export interface PublishResult {
  created: boolean;
  id: string;
  version: number;
  sha256: string;
  signatures: SignatureSummary[];
}

function parseVerified(services: Services, bytes: Uint8Array): Catalog {
  try {
    const catalog = parseCatalog(bytes, { maxDocumentBytes: services.config.trust.maxDocumentBytes });
    requireFresh(catalog, services.clock(), DEFAULT_LIMITS.maxCatalogLifetimeSeconds, 'catalog.yaml');
    return catalog;
  } catch (err) {
    const reasons = reasonsOf(err, 'PARSE_ERROR');
    throw unprocessable(reasons[0]?.code ?? 'PARSE_ERROR', 'catalog rejected', reasons);
  }
}

async function storeSignatures(
  tx: SqlExecutor,
  id: string,
  version: number,
  accepted: AcceptedSignature[],
  at: number,
) {
  let added = 0;
  for (const { verified, der } of accepted) {
    const inserted = await insertSignature(tx, {
      catalogId: id,
      version,
      signerCertSha256: verified.signerCertSha256,
      der,
      subject: verified.identity.subject,
      issuer: verified.identity.issuer,
      identityKey: verified.identity.key,
      addedAt: at,
    });
    if (inserted) added++;
  }
  return added;
}

export async function summaries(
  services: Services,
  id: string,
  version: number,
): Promise<SignatureSummary[]> {
  return (await signaturesOf(services.db, id, version)).map((s) => ({
    signerCertSha256: s.signerCertSha256,
    subject: s.subject,
    issuer: s.issuer,
  }));
}

export async function publishCatalog(
  services: Services,
  principal: Principal,
  bytes: Buffer,
  signatures: Buffer[],
): Promise<PublishResult> {
  const check = await checkSignatures(services, await knownSigners(services, principal), bytes, signatures);
  if (check.reasons.length > 0) {
    throw unprocessable(
      check.reasons[0]?.code ?? 'SIGNATURE_INVALID',
      'catalog signatures rejected',
      check.reasons,
    );
  }
  return storeCatalogVersion(services, actorOf(principal), principal.user.name, bytes, check.accepted);
}

/** Stores a version whose signatures were already checked: parse, freshness, version rules, one transaction. */
export async function storeCatalogVersion(
  services: Services,
  actor: string,
  uploadedBy: string,
  bytes: Buffer,
  accepted: AcceptedSignature[],
): Promise<PublishResult> {
  const { db, clock } = services;
  const catalog = parseVerified(services, bytes);
  const sha256 = sha256Hex(bytes);
  const now = clock().getTime();
  const audit = (tx: SqlExecutor, action: string) =>
    appendAudit(
      db,
      tx,
      {
        actor,
        action,
        target: `catalog:${catalog.id}/${catalog.version}`,
        detail: { sha256, signers: accepted.map((s) => s.verified.signerCertSha256) },
      },
      clock(),
    );
  const created = await db.transaction(async (tx) => {
    const existing = await versionOf(tx, catalog.id, catalog.version);
    if (existing) {
      if (existing.sha256 !== sha256)
        throw conflict(
          'EQUIVOCATION',
          `catalog ${catalog.id} version ${catalog.version} exists with other bytes`,
        );
      const added = await storeSignatures(tx, catalog.id, catalog.version, accepted, now);
      if (added > 0) await audit(tx, 'catalog.sign');
      return false;
    }
    const summary = await catalogById(tx, catalog.id);
    if (summary && catalog.version < summary.latestVersion)
      throw conflict(
        'VERSION_NOT_NEWER',
        `catalog ${catalog.id} is at version ${summary.latestVersion}; ${catalog.version} is older`,
      );
    await upsertCatalog(tx, {
      id: catalog.id,
      name: catalog.name,
      createdAt: now,
      latestVersion: catalog.version,
    });
    await insertVersion(tx, {
      catalogId: catalog.id,
      version: catalog.version,
      sha256,
      bytes,
      issued: catalog.issued,
      expires: catalog.expires,
      uploadedBy,
      uploadedAt: now,
    });
    await storeSignatures(tx, catalog.id, catalog.version, accepted, now);
    await insertEntries(
      tx,
      catalog.entries.map((e) => ({
        catalogId: catalog.id,
        version: catalog.version,
        entryId: e.id,
        kind: e.kind,
        name: e.name,
        sha256: entryDigest(e) ?? '',
        infoHash: e.artifact?.infoHash ?? null,
        voTags: e.voTags ?? [],
      })),
    );
    await audit(tx, 'catalog.publish');
    return true;
  });
  services.tracker.invalidate();
  services.events.emit('catalog-changed');
  return {
    created,
    id: catalog.id,
    version: catalog.version,
    sha256,
    signatures: await summaries(services, catalog.id, catalog.version),
  };
}

/** Adds one more endorser signature to a stored version (it must cover the stored bytes). */
export async function addSignature(
  services: Services,
  principal: Principal,
  id: string,
  version: number,
  der: Buffer,
): Promise<PublishResult> {
  const stored = await versionOf(services.db, id, version);
  if (!stored) throw notFound(`catalog ${id} version ${version}`);
  const result = await publishCatalog(services, principal, stored.bytes, [der]);
  if (result.id !== id || result.version !== version)
    throw new ApiError(500, 'INTERNAL', 'stored catalog changed identity');
  return result;
}
