// Sites: signer, trust list (local + upstream, minus local removals), approvals, approval documents,
// upstream subscriptions.
import type { SqlExecutor } from './db.js';

export interface SiteRecord {
  name: string;
  threshold: number;
  signerCertPem: string | null;
  signerKeyPem: string | null;
  signerChainPem: string | null;
  createdAt: number;
}

export interface EndorserScope {
  kinds?: string[];
  voTags?: string[];
}

export interface SiteEndorserRecord {
  site: string;
  identityKey: string;
  origin: 'local' | 'upstream';
  issuer: string;
  subject: string;
  scope: EndorserScope;
}

export interface EntryApprovalRecord {
  site: string;
  catalogId: string;
  entryId: string;
  sha256: string;
  state: 'approved' | 'revoked';
  byUser: string;
  at: number;
}

export interface AutoRuleRecord {
  id: string;
  site: string;
  identityKey: string;
  scope: EndorserScope;
  byUser: string;
  at: number;
}

export interface ApprovalDocRecord {
  site: string;
  version: number;
  bytes: Buffer;
  signature: Buffer;
  /** Digest of everything the document says except version/issued/expires: changes mean re-sign. */
  contentKey: string;
  issuedAt: number;
  expiresAt: number;
}

export interface SubscriptionRecord {
  site: string;
  url: string;
  /** The only identity whose signature on the trust list is accepted (slash-form DNs). */
  signerIssuer: string;
  signerSubject: string;
  status: 'pending' | 'ok' | 'error';
  lastAttemptAt: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
  lastVersion: number | null;
}

interface SiteRow {
  name: string;
  threshold: number;
  signer_cert_pem: string | null;
  signer_key_pem: string | null;
  signer_chain_pem: string | null;
  created_at: number;
}

const toSite = (r: SiteRow): SiteRecord => ({
  name: r.name,
  threshold: Number(r.threshold),
  signerCertPem: r.signer_cert_pem,
  signerKeyPem: r.signer_key_pem,
  signerChainPem: r.signer_chain_pem,
  createdAt: Number(r.created_at),
});

export async function insertSite(db: SqlExecutor, s: SiteRecord): Promise<void> {
  await db.run(
    'INSERT INTO sites (name, threshold, signer_cert_pem, signer_key_pem, signer_chain_pem, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    [s.name, s.threshold, s.signerCertPem, s.signerKeyPem, s.signerChainPem, s.createdAt],
  );
}

export async function updateSite(db: SqlExecutor, s: SiteRecord): Promise<void> {
  await db.run(
    'UPDATE sites SET threshold = ?, signer_cert_pem = ?, signer_key_pem = ?, signer_chain_pem = ? WHERE name = ?',
    [s.threshold, s.signerCertPem, s.signerKeyPem, s.signerChainPem, s.name],
  );
}

export async function siteByName(db: SqlExecutor, name: string): Promise<SiteRecord | undefined> {
  const r = await db.get<SiteRow>('SELECT * FROM sites WHERE name = ?', [name]);
  return r && toSite(r);
}

export async function listSites(db: SqlExecutor): Promise<SiteRecord[]> {
  return (await db.all<SiteRow>('SELECT * FROM sites ORDER BY name')).map(toSite);
}

interface EndorserRow {
  site: string;
  identity_key: string;
  origin: 'local' | 'upstream';
  issuer: string;
  subject: string;
  scope: string;
}

const toEndorser = (r: EndorserRow): SiteEndorserRecord => ({
  site: r.site,
  identityKey: r.identity_key,
  origin: r.origin,
  issuer: r.issuer,
  subject: r.subject,
  scope: JSON.parse(r.scope) as EndorserScope,
});

export async function putEndorser(db: SqlExecutor, e: SiteEndorserRecord): Promise<void> {
  await db.run('DELETE FROM site_endorsers WHERE site = ? AND identity_key = ? AND origin = ?', [
    e.site,
    e.identityKey,
    e.origin,
  ]);
  await db.run(
    'INSERT INTO site_endorsers (site, identity_key, origin, issuer, subject, scope) VALUES (?, ?, ?, ?, ?, ?)',
    [e.site, e.identityKey, e.origin, e.issuer, e.subject, JSON.stringify(e.scope)],
  );
}

export async function deleteEndorser(
  db: SqlExecutor,
  site: string,
  identityKey: string,
  origin: 'local' | 'upstream',
): Promise<number> {
  return (
    await db.run('DELETE FROM site_endorsers WHERE site = ? AND identity_key = ? AND origin = ?', [
      site,
      identityKey,
      origin,
    ])
  ).changes;
}

export async function replaceUpstreamEndorsers(
  db: SqlExecutor,
  site: string,
  endorsers: SiteEndorserRecord[],
): Promise<void> {
  await db.run("DELETE FROM site_endorsers WHERE site = ? AND origin = 'upstream'", [site]);
  for (const e of endorsers) await putEndorser(db, { ...e, site, origin: 'upstream' });
}

export async function endorsersOf(db: SqlExecutor, site: string): Promise<SiteEndorserRecord[]> {
  return (
    await db.all<EndorserRow>('SELECT * FROM site_endorsers WHERE site = ? ORDER BY identity_key, origin', [
      site,
    ])
  ).map(toEndorser);
}

export async function allEndorserIdentities(db: SqlExecutor): Promise<string[]> {
  return (await db.all<{ identity_key: string }>('SELECT DISTINCT identity_key FROM site_endorsers')).map(
    (r) => r.identity_key,
  );
}

export async function removalsOf(db: SqlExecutor, site: string): Promise<string[]> {
  return (
    await db.all<{ identity_key: string }>(
      'SELECT identity_key FROM site_endorser_removals WHERE site = ? ORDER BY identity_key',
      [site],
    )
  ).map((r) => r.identity_key);
}

export async function addRemoval(db: SqlExecutor, site: string, identityKey: string): Promise<void> {
  await db.run('DELETE FROM site_endorser_removals WHERE site = ? AND identity_key = ?', [site, identityKey]);
  await db.run('INSERT INTO site_endorser_removals (site, identity_key) VALUES (?, ?)', [site, identityKey]);
}

export async function deleteRemoval(db: SqlExecutor, site: string, identityKey: string): Promise<void> {
  await db.run('DELETE FROM site_endorser_removals WHERE site = ? AND identity_key = ?', [site, identityKey]);
}

export async function putEntryApproval(db: SqlExecutor, a: EntryApprovalRecord): Promise<void> {
  await db.run(
    'DELETE FROM entry_approvals WHERE site = ? AND catalog_id = ? AND entry_id = ? AND sha256 = ?',
    [a.site, a.catalogId, a.entryId, a.sha256],
  );
  await db.run(
    'INSERT INTO entry_approvals (site, catalog_id, entry_id, sha256, state, by_user, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [a.site, a.catalogId, a.entryId, a.sha256, a.state, a.byUser, a.at],
  );
}

export async function entryApprovalsOf(db: SqlExecutor, site: string): Promise<EntryApprovalRecord[]> {
  const rows = await db.all<{
    site: string;
    catalog_id: string;
    entry_id: string;
    sha256: string;
    state: 'approved' | 'revoked';
    by_user: string;
    at: number;
  }>('SELECT * FROM entry_approvals WHERE site = ? ORDER BY catalog_id, entry_id', [site]);
  return rows.map((r) => ({
    site: r.site,
    catalogId: r.catalog_id,
    entryId: r.entry_id,
    sha256: r.sha256,
    state: r.state,
    byUser: r.by_user,
    at: Number(r.at),
  }));
}

export async function putEndorserApproval(
  db: SqlExecutor,
  site: string,
  identityKey: string,
  byUser: string,
  at: number,
): Promise<void> {
  await db.run('DELETE FROM endorser_approvals WHERE site = ? AND identity_key = ?', [site, identityKey]);
  await db.run('INSERT INTO endorser_approvals (site, identity_key, by_user, at) VALUES (?, ?, ?, ?)', [
    site,
    identityKey,
    byUser,
    at,
  ]);
}

export async function deleteEndorserApproval(
  db: SqlExecutor,
  site: string,
  identityKey: string,
): Promise<number> {
  return (
    await db.run('DELETE FROM endorser_approvals WHERE site = ? AND identity_key = ?', [site, identityKey])
  ).changes;
}

export async function endorserApprovalsOf(db: SqlExecutor, site: string): Promise<string[]> {
  return (
    await db.all<{ identity_key: string }>(
      'SELECT identity_key FROM endorser_approvals WHERE site = ? ORDER BY identity_key',
      [site],
    )
  ).map((r) => r.identity_key);
}

export async function insertAutoRule(db: SqlExecutor, r: AutoRuleRecord): Promise<void> {
  await db.run(
    'INSERT INTO auto_rules (id, site, identity_key, scope, by_user, at) VALUES (?, ?, ?, ?, ?, ?)',
    [r.id, r.site, r.identityKey, JSON.stringify(r.scope), r.byUser, r.at],
  );
}

export async function deleteAutoRule(db: SqlExecutor, site: string, id: string): Promise<number> {
  return (await db.run('DELETE FROM auto_rules WHERE site = ? AND id = ?', [site, id])).changes;
}

export async function autoRulesOf(db: SqlExecutor, site: string): Promise<AutoRuleRecord[]> {
  const rows = await db.all<{
    id: string;
    site: string;
    identity_key: string;
    scope: string;
    by_user: string;
    at: number;
  }>('SELECT * FROM auto_rules WHERE site = ? ORDER BY at, id', [site]);
  return rows.map((r) => ({
    id: r.id,
    site: r.site,
    identityKey: r.identity_key,
    scope: JSON.parse(r.scope) as EndorserScope,
    byUser: r.by_user,
    at: Number(r.at),
  }));
}

interface ApprovalDocRow {
  site: string;
  version: number;
  bytes: Buffer;
  signature: Buffer;
  content_key: string;
  issued_at: number;
  expires_at: number;
}

export async function latestApprovalDoc(
  db: SqlExecutor,
  site: string,
): Promise<ApprovalDocRecord | undefined> {
  const r = await db.get<ApprovalDocRow>(
    'SELECT * FROM approval_docs WHERE site = ? ORDER BY version DESC LIMIT 1',
    [site],
  );
  return (
    r && {
      site: r.site,
      version: Number(r.version),
      bytes: Buffer.from(r.bytes),
      signature: Buffer.from(r.signature),
      contentKey: r.content_key,
      issuedAt: Number(r.issued_at),
      expiresAt: Number(r.expires_at),
    }
  );
}

/** The newest approval documents of a site (bytes and times), newest first. */
export async function recentApprovalDocs(
  db: SqlExecutor,
  site: string,
  limit: number,
): Promise<Pick<ApprovalDocRecord, 'version' | 'bytes' | 'issuedAt'>[]> {
  const rows = await db.all<{ version: number; bytes: Buffer; issued_at: number }>(
    'SELECT version, bytes, issued_at FROM approval_docs WHERE site = ? ORDER BY version DESC LIMIT ?',
    [site, limit],
  );
  return rows.map((r) => ({
    version: Number(r.version),
    bytes: Buffer.from(r.bytes),
    issuedAt: Number(r.issued_at),
  }));
}

export async function insertApprovalDoc(db: SqlExecutor, d: ApprovalDocRecord): Promise<void> {
  await db.run(
    'INSERT INTO approval_docs (site, version, bytes, signature, content_key, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [d.site, d.version, d.bytes, d.signature, d.contentKey, d.issuedAt, d.expiresAt],
  );
}

interface SubscriptionRow {
  site: string;
  url: string;
  signer_issuer: string;
  signer_subject: string;
  status: SubscriptionRecord['status'];
  last_attempt_at: number | null;
  last_success_at: number | null;
  last_error: string | null;
  last_version: number | null;
}

const num = (v: number | null) => (v === null ? null : Number(v));

export async function subscriptionOf(db: SqlExecutor, site: string): Promise<SubscriptionRecord | undefined> {
  const r = await db.get<SubscriptionRow>('SELECT * FROM subscriptions WHERE site = ?', [site]);
  return (
    r && {
      site: r.site,
      url: r.url,
      signerIssuer: r.signer_issuer,
      signerSubject: r.signer_subject,
      status: r.status,
      lastAttemptAt: num(r.last_attempt_at),
      lastSuccessAt: num(r.last_success_at),
      lastError: r.last_error,
      lastVersion: num(r.last_version),
    }
  );
}

export async function allSubscriptions(db: SqlExecutor): Promise<string[]> {
  return (await db.all<{ site: string }>('SELECT site FROM subscriptions ORDER BY site')).map((r) => r.site);
}

export async function saveSubscription(db: SqlExecutor, s: SubscriptionRecord): Promise<void> {
  await db.run('DELETE FROM subscriptions WHERE site = ?', [s.site]);
  await db.run(
    'INSERT INTO subscriptions (site, url, signer_issuer, signer_subject, status, last_attempt_at, last_success_at, last_error, last_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [
      s.site,
      s.url,
      s.signerIssuer,
      s.signerSubject,
      s.status,
      s.lastAttemptAt,
      s.lastSuccessAt,
      s.lastError,
      s.lastVersion,
    ],
  );
}

export async function pruneApprovalDocs(
  db: SqlExecutor,
  site: string,
  keepFromVersion: number,
): Promise<void> {
  await db.run('DELETE FROM approval_docs WHERE site = ? AND version < ?', [site, keepFromVersion]);
}

export async function deleteSubscription(db: SqlExecutor, site: string): Promise<number> {
  return (await db.run('DELETE FROM subscriptions WHERE site = ?', [site])).changes;
}
