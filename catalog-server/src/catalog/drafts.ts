// Drafts: the next version of a catalog prepared on the server. The endorser fetches the exact
// bytes, signs them locally and uploads only the signature; private keys never come here.
import {
  type Catalog,
  type CatalogEntry,
  parseCatalog,
  reasonsOf,
  serializeDocument,
  sha256Hex,
} from '@trustswarm/policy';
import { appendAudit } from '../audit/chain.js';
import type { Principal } from '../auth/authorize.js';
import { badRequest, conflict, notFound, unprocessable } from '../errors.js';
import { actorOf } from '../http/auth-plugin.js';
import type { Services } from '../services.js';
import { catalogById, deleteDraft, draftOf, saveDraft, versionOf } from '../storage/catalog-repo.js';
import { type PublishResult, publishCatalog } from './publish.js';

function parseDraft(services: Services, bytes: Uint8Array): Catalog {
  try {
    return parseCatalog(bytes, { maxDocumentBytes: services.config.trust.maxDocumentBytes });
  } catch (err) {
    const reasons = reasonsOf(err, 'SCHEMA_INVALID');
    throw unprocessable(reasons[0]?.code ?? 'SCHEMA_INVALID', 'draft is not a valid catalog', reasons);
  }
}

async function store(
  services: Services,
  principal: Principal,
  catalogId: string,
  bytes: Buffer,
  action: string,
) {
  const { db, clock } = services;
  const sha256 = sha256Hex(bytes);
  await db.transaction(async (tx) => {
    await saveDraft(tx, {
      catalogId,
      bytes,
      sha256,
      updatedBy: principal.user.name,
      updatedAt: clock().getTime(),
    });
    await appendAudit(
      db,
      tx,
      { actor: actorOf(principal), action, target: `catalog:${catalogId}/draft`, detail: { sha256 } },
      clock(),
    );
  });
  return { sha256 };
}

export async function putDraft(services: Services, principal: Principal, catalogId: string, bytes: Buffer) {
  const draft = parseDraft(services, bytes);
  if (draft.id !== catalogId)
    throw badRequest('ID_MISMATCH', `draft id ${draft.id} differs from ${catalogId}`);
  const summary = await catalogById(services.db, catalogId);
  if (summary && draft.version <= summary.latestVersion)
    throw conflict('VERSION_NOT_NEWER', `draft version must be above the published ${summary.latestVersion}`);
  return store(services, principal, catalogId, bytes, 'draft.put');
}

/** The current draft, or a new one made from the newest published version with version + 1. */
async function currentDraft(services: Services, catalogId: string): Promise<Catalog> {
  const draft = await draftOf(services.db, catalogId);
  if (draft) return parseDraft(services, draft.bytes);
  const summary = await catalogById(services.db, catalogId);
  if (!summary) throw notFound(`draft or catalog ${catalogId}`);
  const latest = await versionOf(services.db, catalogId, summary.latestVersion);
  if (!latest) throw notFound(`catalog ${catalogId} version ${summary.latestVersion}`);
  const base = parseDraft(services, latest.bytes);
  return { ...base, version: base.version + 1 };
}

function serialize(draft: Catalog): Buffer {
  try {
    return serializeDocument(draft);
  } catch (err) {
    const reasons = reasonsOf(err, 'SCHEMA_INVALID');
    throw unprocessable('SCHEMA_INVALID', 'the draft would not be a valid catalog', reasons);
  }
}

export async function addDraftEntry(
  services: Services,
  principal: Principal,
  catalogId: string,
  entry: CatalogEntry,
) {
  const draft = await currentDraft(services, catalogId);
  if (draft.entries.some((e) => e.id === entry.id))
    throw conflict('ENTRY_EXISTS', `entry ${entry.id} is already in the draft`);
  return store(
    services,
    principal,
    catalogId,
    serialize({ ...draft, entries: [...draft.entries, entry] }),
    'draft.entry.add',
  );
}

export async function removeDraftEntry(
  services: Services,
  principal: Principal,
  catalogId: string,
  entryId: string,
) {
  const draft = await currentDraft(services, catalogId);
  if (!draft.entries.some((e) => e.id === entryId)) throw notFound(`entry ${entryId} in the draft`);
  return store(
    services,
    principal,
    catalogId,
    serialize({ ...draft, entries: draft.entries.filter((e) => e.id !== entryId) }),
    'draft.entry.remove',
  );
}

/** A signature over the exact draft bytes publishes the draft as the next version. */
export async function signDraft(
  services: Services,
  principal: Principal,
  catalogId: string,
  der: Buffer,
): Promise<PublishResult> {
  const draft = await draftOf(services.db, catalogId);
  if (!draft) throw notFound(`draft of catalog ${catalogId}`);
  const result = await publishCatalog(services, principal, draft.bytes, [der]);
  await deleteDraft(services.db, catalogId);
  return result;
}
