// Export and import of a site as one .tar.gz: a manifest (trust list, approvals, rules,
// subscription) plus every catalog version with its signatures. The site key is never exported.
// Import re-verifies every signature against this server's trust anchors before storing anything.

import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { z } from 'zod';
import { appendAudit } from '../audit/chain.js';
import type { Principal } from '../auth/authorize.js';
import { storeCatalogVersion } from '../catalog/publish.js';
import { checkSignatures } from '../catalog/signatures.js';
import { ApiError, badRequest, conflict, notFound, type Reason } from '../errors.js';
import { actorOf } from '../http/auth-plugin.js';
import type { Services } from '../services.js';
import { listCatalogs, signaturesOf, versionsOf } from '../storage/catalog-repo.js';
import {
  addRemoval,
  autoRulesOf,
  endorserApprovalsOf,
  endorsersOf,
  entryApprovalsOf,
  insertAutoRule,
  insertSite,
  latestApprovalDoc,
  putEndorser,
  putEndorserApproval,
  putEntryApproval,
  removalsOf,
  saveSubscription,
  siteByName,
  subscriptionOf,
} from '../storage/site-repo.js';
import { parseScope, sitePattern } from './site-admin.js';
import { keyOfDns } from './trust.js';

const format = 'trustswarm-site-export/1';
const scope = z.object({ kinds: z.array(z.string()).optional(), voTags: z.array(z.string()).optional() });
const manifestSchema = z.object({
  format: z.literal(format),
  exportedAt: z.string(),
  site: z.object({ name: z.string().regex(sitePattern), threshold: z.number().int().min(1).max(100) }),
  endorsers: z.array(z.object({ identityKey: z.string(), issuer: z.string(), subject: z.string(), scope })),
  removals: z.array(z.string()),
  entryApprovals: z.array(
    z.object({
      catalogId: z.string(),
      entryId: z.string(),
      sha256: z.string(),
      state: z.enum(['approved', 'revoked']),
      byUser: z.string(),
      at: z.number(),
    }),
  ),
  endorserApprovals: z.array(z.string()),
  autoRules: z.array(
    z.object({ id: z.string(), identityKey: z.string(), scope, byUser: z.string(), at: z.number() }),
  ),
  subscription: z.object({ url: z.string(), signerIssuer: z.string(), signerSubject: z.string() }).nullable(),
  catalogs: z.array(
    z.object({
      id: z.string().regex(/^[0-9a-f-]{36}$/),
      version: z.number().int().min(1),
      signatures: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
    }),
  ),
});
type Manifest = z.infer<typeof manifestSchema>;

export async function exportSite(services: Services, principal: Principal, site: string): Promise<Readable> {
  const { db } = services;
  const record = await siteByName(db, site);
  if (!record) throw notFound(`site ${site}`);
  const pack = tar.pack();
  const catalogs: Manifest['catalogs'] = [];
  for (const summary of await listCatalogs(db, Number.MAX_SAFE_INTEGER)) {
    for (const v of (await versionsOf(db, summary.id)).reverse()) {
      const signatures = await signaturesOf(db, v.catalogId, v.version);
      pack.entry({ name: `catalogs/${v.catalogId}/${v.version}/catalog.yaml` }, v.bytes);
      for (const s of signatures)
        pack.entry(
          { name: `catalogs/${v.catalogId}/${v.version}/signatures/${s.signerCertSha256}.p7s` },
          s.der,
        );
      catalogs.push({
        id: v.catalogId,
        version: v.version,
        signatures: signatures.map((s) => s.signerCertSha256),
      });
    }
  }
  const subscription = await subscriptionOf(db, site);
  const manifest: Manifest = {
    format,
    exportedAt: services.clock().toISOString(),
    site: { name: record.name, threshold: record.threshold },
    endorsers: (await endorsersOf(db, site))
      .filter((e) => e.origin === 'local')
      .map(({ identityKey, issuer, subject, scope: s }) => ({ identityKey, issuer, subject, scope: s })),
    removals: await removalsOf(db, site),
    entryApprovals: (await entryApprovalsOf(db, site)).map(({ site: _s, ...rest }) => rest),
    endorserApprovals: await endorserApprovalsOf(db, site),
    autoRules: (await autoRulesOf(db, site)).map(({ site: _s, ...rest }) => rest),
    subscription: subscription
      ? {
          url: subscription.url,
          signerIssuer: subscription.signerIssuer,
          signerSubject: subscription.signerSubject,
        }
      : null,
    catalogs,
  };
  const approval = await latestApprovalDoc(db, site);
  if (approval) {
    pack.entry({ name: `sites/${site}/approval.yaml` }, approval.bytes);
    pack.entry({ name: `sites/${site}/approval.yaml.p7s` }, approval.signature);
  }
  pack.entry({ name: 'manifest.json' }, JSON.stringify(manifest, null, 2));
  pack.finalize();
  await services.db.transaction((tx) =>
    appendAudit(
      db,
      tx,
      {
        actor: actorOf(principal),
        action: 'site.export',
        target: `site:${site}`,
        detail: { catalogs: catalogs.length },
      },
      services.clock(),
    ),
  );
  return pack.pipe(createGzip());
}

async function readArchive(archive: Buffer, maxFiles: number): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  Readable.from([archive])
    .pipe(createGunzip())
    .on('error', (err) => extract.destroy(err))
    .pipe(extract);
  try {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (entry.header.type === 'file') files.set(entry.header.name, Buffer.concat(chunks));
      if (files.size > maxFiles)
        throw badRequest('ARCHIVE_INVALID', `archive holds more than ${maxFiles} files`);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest('ARCHIVE_INVALID', `not a site export (.tar.gz): ${(err as Error).message}`);
  }
  return files;
}

export interface ImportReport {
  site: string;
  catalogVersionsImported: number;
  catalogVersionsSkipped: { id: string; version: number; reasons: Reason[] }[];
}

export async function importSite(
  services: Services,
  principal: Principal,
  archive: Buffer,
): Promise<ImportReport> {
  const files = await readArchive(archive, 1_000_000);
  const manifestBytes = files.get('manifest.json');
  if (!manifestBytes) throw badRequest('ARCHIVE_INVALID', 'manifest.json missing');
  let manifest: Manifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  } catch (err) {
    throw badRequest('ARCHIVE_INVALID', `manifest.json: ${(err as Error).message.split('\n')[0]}`);
  }
  const { db, clock } = services;
  const site = manifest.site.name;
  if (await siteByName(db, site))
    throw conflict('SITE_EXISTS', `site ${site} exists; remove it or import elsewhere`);
  const report: ImportReport = { site, catalogVersionsImported: 0, catalogVersionsSkipped: [] };
  for (const c of manifest.catalogs) {
    const base = `catalogs/${c.id}/${c.version}`;
    const bytes = files.get(`${base}/catalog.yaml`);
    const signatures = c.signatures
      .map((s) => files.get(`${base}/signatures/${s}.p7s`))
      .filter((b): b is Buffer => b !== undefined);
    if (!bytes) {
      report.catalogVersionsSkipped.push({
        id: c.id,
        version: c.version,
        reasons: [{ code: 'FILE_MISSING', message: `${base}/catalog.yaml missing` }],
      });
      continue;
    }
    const check = await checkSignatures(services, 'any', bytes, signatures);
    if (check.accepted.length === 0) {
      report.catalogVersionsSkipped.push({ id: c.id, version: c.version, reasons: check.reasons });
      continue;
    }
    try {
      await storeCatalogVersion(services, actorOf(principal), principal.user.name, bytes, check.accepted);
      report.catalogVersionsImported++;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      report.catalogVersionsSkipped.push({
        id: c.id,
        version: c.version,
        reasons: err.reasons.length ? err.reasons : [{ code: err.code, message: err.message }],
      });
    }
  }
  await db.transaction(async (tx) => {
    if (await siteByName(tx, site)) throw conflict('SITE_EXISTS', `site ${site} exists`);
    const at = clock().getTime();
    await insertSite(tx, {
      name: site,
      threshold: manifest.site.threshold,
      signerCertPem: null,
      signerKeyPem: null,
      signerChainPem: null,
      createdAt: at,
    });
    for (const e of manifest.endorsers) {
      const identityKey = keyOfDns(e.issuer, e.subject);
      await putEndorser(tx, {
        identityKey,
        issuer: e.issuer,
        subject: e.subject,
        scope: parseScope(e.scope),
        site,
        origin: 'local',
      });
    }
    for (const key of manifest.removals) await addRemoval(tx, site, key);
    for (const a of manifest.entryApprovals) await putEntryApproval(tx, { ...a, site });
    for (const key of manifest.endorserApprovals)
      await putEndorserApproval(tx, site, key, principal.user.name, at);
    for (const r of manifest.autoRules) await insertAutoRule(tx, { ...r, scope: parseScope(r.scope), site });
    if (manifest.subscription)
      await saveSubscription(tx, {
        site,
        ...manifest.subscription,
        status: 'pending',
        lastAttemptAt: null,
        lastSuccessAt: null,
        lastError: null,
        lastVersion: null,
      });
    await appendAudit(
      db,
      tx,
      {
        actor: actorOf(principal),
        action: 'site.import',
        target: `site:${site}`,
        detail: { imported: report.catalogVersionsImported, skipped: report.catalogVersionsSkipped.length },
      },
      clock(),
    );
  });
  services.events.emit('site-changed', site);
  return report;
}
