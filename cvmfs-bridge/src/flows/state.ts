// The bridge's own memory across restarts (SQLite, WAL): which S3 objects are published and
// how, which approved entries are downloaded/published/flagged, which repositories were
// requested. Each row is written after the step it records, so a restart redoes at most the
// step that was running, and every step is safe to redo.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

export interface S3ObjectRow {
  bucket: string;
  key: string;
  repository: string;
  etag: string;
  sizeBytes: number;
  /** published as a file or an unpacked tar; rejected: refused (reason), not retried for this etag */
  kind: 'file' | 'tar' | 'rejected';
  reason: string;
}

export type ApprovedStatus = 'downloaded' | 'published' | 'flagged';

export interface ApprovedRow {
  entryId: string;
  /** repo-snapshot (a tar at `path`) or container-image (`reference` converted, `path` its public link). */
  kind: 'repo-snapshot' | 'container-image';
  /** container-image: REGISTRY/REPO:TAG; empty for snapshots. */
  reference: string;
  repository: string;
  path: string;
  sha256: string;
  infoHash: string;
  filePath: string;
  status: ApprovedStatus;
  revision: number;
  unapprovedSince: string;
}

export interface RequestRow {
  repository: string;
  requester: string;
  kind: string;
  owners: string[];
  status: 'creating' | 'ready';
  response: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS s3_objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, repository TEXT NOT NULL, etag TEXT NOT NULL,
  size_bytes INTEGER NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL, PRIMARY KEY (bucket, key));
CREATE TABLE IF NOT EXISTS approved_entries (
  entry_id TEXT PRIMARY KEY, repository TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
  info_hash TEXT NOT NULL, file_path TEXT NOT NULL, status TEXT NOT NULL,
  revision INTEGER NOT NULL DEFAULT 0, unapproved_since TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'repo-snapshot',
  reference TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS repo_requests (
  repository TEXT PRIMARY KEY, requester TEXT NOT NULL, kind TEXT NOT NULL, owners TEXT NOT NULL,
  status TEXT NOT NULL, response TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
`;

const now = () => new Date().toISOString();

/** Where `tsw-bridge run` keeps this state, below the bridge's stateDir. */
export const flowStateFile = (stateDir: string): string => join(stateDir, 'flows', 'state.db');

export class FlowState {
  private readonly db: Database.Database;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
    // Databases from before container-image entries lack these two columns.
    const columns = new Set(
      (this.db.prepare('PRAGMA table_info(approved_entries)').all() as { name: string }[]).map((c) => c.name),
    );
    if (!columns.has('kind'))
      this.db.exec("ALTER TABLE approved_entries ADD COLUMN kind TEXT NOT NULL DEFAULT 'repo-snapshot'");
    if (!columns.has('reference'))
      this.db.exec("ALTER TABLE approved_entries ADD COLUMN reference TEXT NOT NULL DEFAULT ''");
  }

  close(): void {
    this.db.close();
  }

  // ---- S3 objects

  s3Object(bucket: string, key: string): S3ObjectRow | undefined {
    const row = this.db
      .prepare(
        'SELECT bucket, key, repository, etag, size_bytes AS sizeBytes, kind, reason FROM s3_objects WHERE bucket = ? AND key = ?',
      )
      .get(bucket, key) as S3ObjectRow | undefined;
    return row;
  }

  s3Objects(bucket: string): S3ObjectRow[] {
    return this.db
      .prepare(
        'SELECT bucket, key, repository, etag, size_bytes AS sizeBytes, kind, reason FROM s3_objects WHERE bucket = ?',
      )
      .all(bucket) as S3ObjectRow[];
  }

  /** Records a whole published batch in one transaction (after its publish succeeded). */
  applyS3(changes: { put: S3ObjectRow[]; removed: { bucket: string; key: string }[] }): void {
    const put = this.db.prepare(
      `INSERT INTO s3_objects (bucket, key, repository, etag, size_bytes, kind, reason, updated_at)
       VALUES (@bucket, @key, @repository, @etag, @sizeBytes, @kind, @reason, @updatedAt)
       ON CONFLICT (bucket, key) DO UPDATE SET repository = excluded.repository, etag = excluded.etag,
         size_bytes = excluded.size_bytes, kind = excluded.kind, reason = excluded.reason,
         updated_at = excluded.updated_at`,
    );
    const del = this.db.prepare('DELETE FROM s3_objects WHERE bucket = ? AND key = ?');
    this.db.transaction(() => {
      const updatedAt = now();
      for (const row of changes.put) put.run({ ...row, updatedAt });
      for (const r of changes.removed) del.run(r.bucket, r.key);
    })();
  }

  // ---- approved entries

  approvedEntries(): ApprovedRow[] {
    return this.db
      .prepare(
        `SELECT entry_id AS entryId, kind, reference, repository, path, sha256, info_hash AS infoHash, file_path AS filePath,
           status, revision, unapproved_since AS unapprovedSince FROM approved_entries`,
      )
      .all() as ApprovedRow[];
  }

  approvedEntry(entryId: string): ApprovedRow | undefined {
    return this.approvedEntries().find((e) => e.entryId === entryId);
  }

  putApproved(row: ApprovedRow): void {
    this.db
      .prepare(
        `INSERT INTO approved_entries (entry_id, kind, reference, repository, path, sha256, info_hash,
           file_path, status, revision, unapproved_since, updated_at)
         VALUES (@entryId, @kind, @reference, @repository, @path, @sha256, @infoHash, @filePath, @status,
           @revision, @unapprovedSince, @updatedAt)
         ON CONFLICT (entry_id) DO UPDATE SET kind = excluded.kind, reference = excluded.reference,
           repository = excluded.repository, path = excluded.path,
           sha256 = excluded.sha256, info_hash = excluded.info_hash, file_path = excluded.file_path,
           status = excluded.status, revision = excluded.revision,
           unapproved_since = excluded.unapproved_since, updated_at = excluded.updated_at`,
      )
      .run({ ...row, updatedAt: now() });
  }

  deleteApproved(entryId: string): void {
    this.db.prepare('DELETE FROM approved_entries WHERE entry_id = ?').run(entryId);
  }

  // ---- repository requests

  request(repository: string): RequestRow | undefined {
    const row = this.db
      .prepare(
        'SELECT repository, requester, kind, owners, status, response FROM repo_requests WHERE repository = ?',
      )
      .get(repository) as (Omit<RequestRow, 'owners'> & { owners: string }) | undefined;
    return row ? { ...row, owners: JSON.parse(row.owners) as string[] } : undefined;
  }

  putRequest(row: RequestRow): void {
    this.db
      .prepare(
        `INSERT INTO repo_requests (repository, requester, kind, owners, status, response, created_at, updated_at)
         VALUES (@repository, @requester, @kind, @owners, @status, @response, @at, @at)
         ON CONFLICT (repository) DO UPDATE SET status = excluded.status, response = excluded.response,
           updated_at = excluded.updated_at`,
      )
      .run({ ...row, owners: JSON.stringify(row.owners), at: now() });
  }
}

/** A path a repo-snapshot entry publishes (published, flagged) or is about to (downloaded). */
export interface SnapshotClaim {
  readonly entryId: string;
  readonly path: string;
  readonly status: ApprovedStatus;
}

/**
 * Every repo-snapshot path of the repository, read-only, for the container converter (another
 * process, maybe): a bridge that never ran the flows has none, and nothing is created. A
 * downloaded row counts: its snapshot may be published next (or an update of a published one
 * is under way), and the row exists before its transaction starts, so no publish slips past.
 */
export function snapshotClaims(stateDir: string, fqrn: string): SnapshotClaim[] {
  const file = flowStateFile(stateDir);
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'approved_entries'").get())
      return [];
    const kind = (db.prepare('PRAGMA table_info(approved_entries)').all() as { name: string }[]).some(
      (c) => c.name === 'kind',
    );
    // Before the kind column, every row was a snapshot.
    return db
      .prepare(
        `SELECT entry_id AS entryId, path, status FROM approved_entries WHERE repository = ?${kind ? " AND kind = 'repo-snapshot'" : ''} ORDER BY path`,
      )
      .all(fqrn) as SnapshotClaim[];
  } finally {
    db.close();
  }
}
