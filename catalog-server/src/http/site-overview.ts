// What a site admin needs to decide: every entry of the newest version of every catalog with its
// state for the site (approved, revoked, pending), and what the next approval changes.
import { entryDigest, parseApproval, parseCatalog } from '@trustswarm/policy';
import type {
  ChangedEntry,
  EntryState,
  SiteCatalogView,
  SiteEntryView,
  SiteOverview,
} from '../../ui/src/shapes.js';
import type { Services } from '../services.js';
import { buildApprovalContent } from '../sites/approval-builder.js';
import { catalogById, latestVersions } from '../storage/catalog-repo.js';
import {
  entryApprovalsOf,
  latestApprovalDoc,
  recentApprovalDocs,
  type SiteRecord,
} from '../storage/site-repo.js';

export type { ChangedEntry, EntryState, SiteCatalogView, SiteEntryView, SiteOverview };

/** How far back the last change is looked for (the signer keeps 50 documents per site). */
const changeLookback = 50;

const byName = (items: ChangedEntry[]) => items.sort((a, b) => a.name.localeCompare(b.name));

const entryKeys = (bytes: Uint8Array) =>
  new Set(parseApproval(bytes).catalogs.flatMap((c) => c.entries.map((e) => keyOf(c.id, e.id))));

async function lastChange(services: Services, site: string, describe: (key: string) => ChangedEntry) {
  const docs = await recentApprovalDocs(services.db, site, changeLookback);
  const newest = docs[0];
  if (!newest) return null;
  let changedIn = newest;
  const newestKeys = entryKeys(newest.bytes);
  for (const older of docs.slice(1)) {
    const keys = entryKeys(older.bytes);
    const differs = keys.size !== newestKeys.size || [...keys].some((k) => !newestKeys.has(k));
    if (differs)
      return {
        fromVersion: older.version,
        toVersion: changedIn.version,
        at: new Date(changedIn.issuedAt).toISOString(),
        added: byName([...newestKeys].filter((k) => !keys.has(k)).map(describe)),
        removed: byName([...keys].filter((k) => !newestKeys.has(k)).map(describe)),
      };
    changedIn = older;
  }
  // the whole kept history lists the same entries: the change was the first document
  if (docs.length < changeLookback && newestKeys.size > 0)
    return {
      fromVersion: 0,
      toVersion: changedIn.version,
      at: new Date(changedIn.issuedAt).toISOString(),
      added: byName([...newestKeys].map(describe)),
      removed: [],
    };
  return null;
}

const keyOf = (catalogId: string, entryId: string) => `${catalogId}/${entryId}`;

export async function siteOverview(services: Services, site: SiteRecord): Promise<SiteOverview> {
  const { db } = services;
  const content = await buildApprovalContent(services, site);
  const listed = new Set(content.catalogs.flatMap((c) => c.entries.map((e) => keyOf(c.id, e.id))));
  const skipped = new Map(content.skipped.map((s) => [s.catalogId, s.reasons]));
  const decisions = new Map(
    (await entryApprovalsOf(db, site.name)).map((d) => [`${keyOf(d.catalogId, d.entryId)}/${d.sha256}`, d]),
  );
  const names = new Map<string, string>();
  const catalogs: SiteCatalogView[] = [];
  for (const stored of await latestVersions(db)) {
    const catalog = parseCatalog(stored.bytes, { maxDocumentBytes: services.config.trust.maxDocumentBytes });
    const reasons =
      skipped.get(stored.catalogId) ??
      (content.trust.endorsers.length === 0
        ? [{ code: 'NO_ENDORSERS', message: 'the site trusts no endorser yet' }]
        : []);
    const entries = catalog.entries.map((e): SiteEntryView => {
      const sha256 = entryDigest(e) ?? '';
      const decision = decisions.get(`${keyOf(catalog.id, e.id)}/${sha256}`);
      names.set(keyOf(catalog.id, e.id), `${e.name} ${e.version}`);
      const state: EntryState = listed.has(keyOf(catalog.id, e.id))
        ? 'approved'
        : decision?.state === 'revoked'
          ? 'revoked'
          : 'pending';
      return {
        id: e.id,
        name: e.name,
        version: e.version,
        kind: e.kind,
        sha256,
        voTags: e.voTags ?? [],
        state,
        decision: decision
          ? { state: decision.state, byUser: decision.byUser, at: new Date(decision.at).toISOString() }
          : null,
      };
    });
    catalogs.push({
      id: catalog.id,
      name: (await catalogById(db, catalog.id))?.name ?? catalog.name,
      version: catalog.version,
      endorser: catalog.endorser?.name ?? '',
      verified: reasons.length === 0,
      reasons,
      entries,
    });
  }
  catalogs.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const doc = await latestApprovalDoc(db, site.name);
  const published = new Set<string>();
  if (doc) {
    for (const c of parseApproval(doc.bytes).catalogs)
      for (const e of c.entries) published.add(keyOf(c.id, e.id));
  }
  const changed = (key: string): ChangedEntry => {
    const [catalogId = '', entryId = ''] = key.split('/');
    return { catalogId, entryId, name: names.get(key) ?? entryId };
  };
  return {
    catalogs,
    published: doc
      ? {
          version: doc.version,
          issued: new Date(doc.issuedAt).toISOString(),
          expires: new Date(doc.expiresAt).toISOString(),
        }
      : null,
    changes: {
      added: byName([...listed].filter((k) => !published.has(k)).map(changed)),
      removed: byName([...published].filter((k) => !listed.has(k)).map(changed)),
    },
    lastChange: await lastChange(services, site.name, changed),
  };
}

/** Entries of verified catalogs that nobody has decided on and nothing approves yet. */
export function pendingCount(overview: SiteOverview): number {
  return overview.catalogs
    .filter((c) => c.verified)
    .reduce((n, c) => n + c.entries.filter((e) => e.state === 'pending').length, 0);
}
