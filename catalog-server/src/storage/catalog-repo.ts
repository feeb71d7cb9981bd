// Catalog versions with their exact bytes and signatures, indexed entries, drafts, torrents, artifacts.
import type { SqlExecutor } from './db.js';

export interface CatalogSummary {
  id: string;
  name: string;
  createdAt: number;
  latestVersion: number;
}

export interface CatalogVersionRecord {
  catalogId: string;
  version: number;
  sha256: string;
  bytes: Buffer;
  issued: string;
  expires: string;
  uploadedBy: string;
  uploadedAt: number;
}

export interface SignatureRecord {
  catalogId: string;
  version: number;
  signerCertSha256: string;
  der: Buffer;
  subject: string;
  issuer: string;
  identityKey: string;
  addedAt: number;
}

export interface EntryRecord {
  catalogId: string;
  version: number;
  entryId: string;
  kind: string;
  name: string;
  sha256: string;
  infoHash: string | null;
  voTags: string[];
}

export interface DraftRecord {
  catalogId: string;
  bytes: Buffer;
  sha256: string;
  updatedBy: string;
  updatedAt: number;
}

interface VersionRow {
  catalog_id: string;
  version: number;
  sha256: string;
  bytes: Buffer;
  issued: string;
  expires: string;
  uploaded_by: string;
  uploaded_at: number;
}

const toVersion = (r: VersionRow): CatalogVersionRecord => ({
  catalogId: r.catalog_id,
  version: Number(r.version),
  sha256: r.sha256,
  bytes: Buffer.from(r.bytes),
  issued: r.issued,
  expires: r.expires,
  uploadedBy: r.uploaded_by,
  uploadedAt: Number(r.uploaded_at),
});

interface SignatureRow {
  catalog_id: string;
  version: number;
  signer_cert_sha256: string;
  der: Buffer;
  subject: string;
  issuer: string;
  identity_key: string;
  added_at: number;
}

const toSignature = (r: SignatureRow): SignatureRecord => ({
  catalogId: r.catalog_id,
  version: Number(r.version),
  signerCertSha256: r.signer_cert_sha256,
  der: Buffer.from(r.der),
  subject: r.subject,
  issuer: r.issuer,
  identityKey: r.identity_key,
  addedAt: Number(r.added_at),
});

interface EntryRow {
  catalog_id: string;
  version: number;
  entry_id: string;
  kind: string;
  name: string;
  sha256: string;
  info_hash: string | null;
  vo_tags: string;
}

const toEntry = (r: EntryRow): EntryRecord => ({
  catalogId: r.catalog_id,
  version: Number(r.version),
  entryId: r.entry_id,
  kind: r.kind,
  name: r.name,
  sha256: r.sha256,
  infoHash: r.info_hash,
  voTags: JSON.parse(r.vo_tags) as string[],
});

export async function listCatalogs(db: SqlExecutor, limit: number): Promise<CatalogSummary[]> {
  const rows = await db.all<{ id: string; name: string; created_at: number; latest_version: number }>(
    'SELECT * FROM catalogs ORDER BY name, id LIMIT ?',
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    createdAt: Number(r.created_at),
    latestVersion: Number(r.latest_version),
  }));
}

export async function catalogById(db: SqlExecutor, id: string): Promise<CatalogSummary | undefined> {
  const r = await db.get<{ id: string; name: string; created_at: number; latest_version: number }>(
    'SELECT * FROM catalogs WHERE id = ?',
    [id],
  );
  return (
    r && { id: r.id, name: r.name, createdAt: Number(r.created_at), latestVersion: Number(r.latest_version) }
  );
}

export async function upsertCatalog(db: SqlExecutor, c: CatalogSummary): Promise<void> {
  const existing = await catalogById(db, c.id);
  if (!existing) {
    await db.run('INSERT INTO catalogs (id, name, created_at, latest_version) VALUES (?, ?, ?, ?)', [
      c.id,
      c.name,
      c.createdAt,
      c.latestVersion,
    ]);
  } else if (c.latestVersion > existing.latestVersion) {
    await db.run('UPDATE catalogs SET name = ?, latest_version = ? WHERE id = ?', [
      c.name,
      c.latestVersion,
      c.id,
    ]);
  }
}

export async function insertVersion(db: SqlExecutor, v: CatalogVersionRecord): Promise<void> {
  await db.run(
    'INSERT INTO catalog_versions (catalog_id, version, sha256, bytes, issued, expires, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [v.catalogId, v.version, v.sha256, v.bytes, v.issued, v.expires, v.uploadedBy, v.uploadedAt],
  );
}

export async function versionOf(
  db: SqlExecutor,
  catalogId: string,
  version: number,
): Promise<CatalogVersionRecord | undefined> {
  const row = await db.get<VersionRow>(
    'SELECT * FROM catalog_versions WHERE catalog_id = ? AND version = ?',
    [catalogId, version],
  );
  return row && toVersion(row);
}

export async function versionsOf(db: SqlExecutor, catalogId: string): Promise<CatalogVersionRecord[]> {
  return (
    await db.all<VersionRow>('SELECT * FROM catalog_versions WHERE catalog_id = ? ORDER BY version DESC', [
      catalogId,
    ])
  ).map(toVersion);
}

export async function latestVersions(db: SqlExecutor): Promise<CatalogVersionRecord[]> {
  return (
    await db.all<VersionRow>(
      'SELECT v.* FROM catalog_versions v JOIN catalogs c ON c.id = v.catalog_id AND c.latest_version = v.version ORDER BY v.catalog_id',
    )
  ).map(toVersion);
}

export async function insertSignature(db: SqlExecutor, s: SignatureRecord): Promise<boolean> {
  const existing = await db.get<{ n: number }>(
    'SELECT 1 AS n FROM signatures WHERE catalog_id = ? AND version = ? AND signer_cert_sha256 = ?',
    [s.catalogId, s.version, s.signerCertSha256],
  );
  if (existing) return false;
  await db.run(
    'INSERT INTO signatures (catalog_id, version, signer_cert_sha256, der, subject, issuer, identity_key, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [s.catalogId, s.version, s.signerCertSha256, s.der, s.subject, s.issuer, s.identityKey, s.addedAt],
  );
  return true;
}

export async function signaturesOf(
  db: SqlExecutor,
  catalogId: string,
  version: number,
): Promise<SignatureRecord[]> {
  return (
    await db.all<SignatureRow>(
      'SELECT * FROM signatures WHERE catalog_id = ? AND version = ? ORDER BY signer_cert_sha256',
      [catalogId, version],
    )
  ).map(toSignature);
}

export async function signatureOf(
  db: SqlExecutor,
  catalogId: string,
  version: number,
  signerCertSha256: string,
): Promise<SignatureRecord | undefined> {
  const row = await db.get<SignatureRow>(
    'SELECT * FROM signatures WHERE catalog_id = ? AND version = ? AND signer_cert_sha256 = ?',
    [catalogId, version, signerCertSha256],
  );
  return row && toSignature(row);
}

export async function insertEntries(db: SqlExecutor, entries: EntryRecord[]): Promise<void> {
  for (const e of entries) {
    await db.run(
      'INSERT INTO entries (catalog_id, version, entry_id, kind, name, sha256, info_hash, vo_tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [e.catalogId, e.version, e.entryId, e.kind, e.name, e.sha256, e.infoHash, JSON.stringify(e.voTags)],
    );
  }
}

export async function entriesOf(db: SqlExecutor, catalogId: string, version: number): Promise<EntryRecord[]> {
  return (
    await db.all<EntryRow>('SELECT * FROM entries WHERE catalog_id = ? AND version = ? ORDER BY entry_id', [
      catalogId,
      version,
    ])
  ).map(toEntry);
}

export async function entriesByInfoHash(db: SqlExecutor, infoHash: string): Promise<EntryRecord[]> {
  return (await db.all<EntryRow>('SELECT * FROM entries WHERE info_hash = ?', [infoHash])).map(toEntry);
}

export async function entriesBySha256(db: SqlExecutor, sha256: string): Promise<EntryRecord[]> {
  return (
    await db.all<EntryRow>('SELECT * FROM entries WHERE sha256 = ? ORDER BY catalog_id, version', [sha256])
  ).map(toEntry);
}

export async function allInfoHashes(db: SqlExecutor): Promise<string[]> {
  const rows = await db.all<{ info_hash: string }>(
    'SELECT DISTINCT info_hash FROM entries WHERE info_hash IS NOT NULL',
  );
  return rows.map((r) => r.info_hash);
}

export async function draftOf(db: SqlExecutor, catalogId: string): Promise<DraftRecord | undefined> {
  const r = await db.get<{
    catalog_id: string;
    bytes: Buffer;
    sha256: string;
    updated_by: string;
    updated_at: number;
  }>('SELECT * FROM drafts WHERE catalog_id = ?', [catalogId]);
  return (
    r && {
      catalogId: r.catalog_id,
      bytes: Buffer.from(r.bytes),
      sha256: r.sha256,
      updatedBy: r.updated_by,
      updatedAt: Number(r.updated_at),
    }
  );
}

export async function saveDraft(db: SqlExecutor, d: DraftRecord): Promise<void> {
  await db.run('DELETE FROM drafts WHERE catalog_id = ?', [d.catalogId]);
  await db.run(
    'INSERT INTO drafts (catalog_id, bytes, sha256, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)',
    [d.catalogId, d.bytes, d.sha256, d.updatedBy, d.updatedAt],
  );
}

export async function deleteDraft(db: SqlExecutor, catalogId: string): Promise<void> {
  await db.run('DELETE FROM drafts WHERE catalog_id = ?', [catalogId]);
}

export async function torrentByInfoHash(
  db: SqlExecutor,
  infoHash: string,
): Promise<{ infoHash: string; sha256: string; sizeBytes: number } | undefined> {
  const r = await db.get<{ info_hash: string; sha256: string; size_bytes: number }>(
    'SELECT * FROM torrents WHERE info_hash = ?',
    [infoHash],
  );
  return r && { infoHash: r.info_hash, sha256: r.sha256, sizeBytes: Number(r.size_bytes) };
}

/** Stored torrents with the artifact digest their catalog entries give (the seeder's work list). */
export async function seedableTorrents(
  db: SqlExecutor,
): Promise<Array<{ infoHash: string; sha256: string }>> {
  const rows = await db.all<{ info_hash: string; sha256: string }>(
    `SELECT DISTINCT t.info_hash, e.sha256 FROM torrents t JOIN entries e ON e.info_hash = t.info_hash
     ORDER BY t.info_hash`,
  );
  return rows.map((r) => ({ infoHash: r.info_hash, sha256: r.sha256 }));
}

export async function insertTorrent(
  db: SqlExecutor,
  t: { infoHash: string; sha256: string; sizeBytes: number; addedAt: number },
): Promise<void> {
  await db.run('INSERT INTO torrents (info_hash, sha256, size_bytes, added_at) VALUES (?, ?, ?, ?)', [
    t.infoHash,
    t.sha256,
    t.sizeBytes,
    t.addedAt,
  ]);
}

export async function artifactBySha256(
  db: SqlExecutor,
  sha256: string,
): Promise<{ sha256: string; sizeBytes: number } | undefined> {
  const r = await db.get<{ sha256: string; size_bytes: number }>('SELECT * FROM artifacts WHERE sha256 = ?', [
    sha256,
  ]);
  return r && { sha256: r.sha256, sizeBytes: Number(r.size_bytes) };
}

export async function insertArtifact(
  db: SqlExecutor,
  a: { sha256: string; sizeBytes: number; addedAt: number },
): Promise<void> {
  if (await artifactBySha256(db, a.sha256)) return;
  await db.run('INSERT INTO artifacts (sha256, size_bytes, added_at) VALUES (?, ?, ?)', [
    a.sha256,
    a.sizeBytes,
    a.addedAt,
  ]);
}
