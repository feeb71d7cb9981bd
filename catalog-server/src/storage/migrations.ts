// Schema migrations for both backends: one SQL text per step, with {BLOB}/{BIGINT} spelled per
// dialect. Applied in order inside a transaction; the applied steps are recorded.
import type { Db } from './db.js';

const steps: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  password_hash TEXT,
  totp_secret TEXT,
  roles TEXT NOT NULL,
  endorser_identity TEXT,
  created_at {BIGINT} NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  secret_hash TEXT NOT NULL,
  scopes TEXT NOT NULL,
  label TEXT NOT NULL,
  created_at {BIGINT} NOT NULL,
  expires_at {BIGINT} NOT NULL,
  revoked_at {BIGINT}
);
CREATE TABLE audit_log (
  seq {BIGINT} PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE catalogs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at {BIGINT} NOT NULL,
  latest_version INTEGER NOT NULL
);
CREATE TABLE catalog_versions (
  catalog_id TEXT NOT NULL REFERENCES catalogs(id),
  version INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  bytes {BLOB} NOT NULL,
  issued TEXT NOT NULL,
  expires TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at {BIGINT} NOT NULL,
  PRIMARY KEY (catalog_id, version)
);
CREATE TABLE signatures (
  catalog_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  signer_cert_sha256 TEXT NOT NULL,
  der {BLOB} NOT NULL,
  subject TEXT NOT NULL,
  issuer TEXT NOT NULL,
  identity_key TEXT NOT NULL,
  added_at {BIGINT} NOT NULL,
  PRIMARY KEY (catalog_id, version, signer_cert_sha256),
  FOREIGN KEY (catalog_id, version) REFERENCES catalog_versions(catalog_id, version)
);
CREATE TABLE entries (
  catalog_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  entry_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  info_hash TEXT,
  vo_tags TEXT NOT NULL,
  PRIMARY KEY (catalog_id, version, entry_id),
  FOREIGN KEY (catalog_id, version) REFERENCES catalog_versions(catalog_id, version)
);
CREATE INDEX entries_info_hash ON entries (info_hash);
CREATE TABLE drafts (
  catalog_id TEXT PRIMARY KEY,
  bytes {BLOB} NOT NULL,
  sha256 TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  updated_at {BIGINT} NOT NULL
);
CREATE TABLE torrents (
  info_hash TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  size_bytes {BIGINT} NOT NULL,
  added_at {BIGINT} NOT NULL
);
CREATE TABLE artifacts (
  sha256 TEXT PRIMARY KEY,
  size_bytes {BIGINT} NOT NULL,
  added_at {BIGINT} NOT NULL
);
CREATE TABLE sites (
  name TEXT PRIMARY KEY,
  threshold INTEGER NOT NULL,
  signer_cert_pem TEXT,
  signer_key_pem TEXT,
  signer_chain_pem TEXT,
  created_at {BIGINT} NOT NULL
);
CREATE TABLE site_endorsers (
  site TEXT NOT NULL REFERENCES sites(name),
  identity_key TEXT NOT NULL,
  origin TEXT NOT NULL,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  scope TEXT NOT NULL,
  PRIMARY KEY (site, identity_key, origin)
);
CREATE TABLE site_endorser_removals (
  site TEXT NOT NULL REFERENCES sites(name),
  identity_key TEXT NOT NULL,
  PRIMARY KEY (site, identity_key)
);
CREATE TABLE entry_approvals (
  site TEXT NOT NULL REFERENCES sites(name),
  catalog_id TEXT NOT NULL,
  entry_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  state TEXT NOT NULL,
  by_user TEXT NOT NULL,
  at {BIGINT} NOT NULL,
  PRIMARY KEY (site, catalog_id, entry_id, sha256)
);
CREATE TABLE endorser_approvals (
  site TEXT NOT NULL REFERENCES sites(name),
  identity_key TEXT NOT NULL,
  by_user TEXT NOT NULL,
  at {BIGINT} NOT NULL,
  PRIMARY KEY (site, identity_key)
);
CREATE TABLE auto_rules (
  id TEXT PRIMARY KEY,
  site TEXT NOT NULL REFERENCES sites(name),
  identity_key TEXT NOT NULL,
  scope TEXT NOT NULL,
  by_user TEXT NOT NULL,
  at {BIGINT} NOT NULL
);
CREATE TABLE approval_docs (
  site TEXT NOT NULL REFERENCES sites(name),
  version INTEGER NOT NULL,
  bytes {BLOB} NOT NULL,
  signature {BLOB} NOT NULL,
  content_key TEXT NOT NULL,
  issued_at {BIGINT} NOT NULL,
  expires_at {BIGINT} NOT NULL,
  PRIMARY KEY (site, version)
);
CREATE TABLE subscriptions (
  site TEXT PRIMARY KEY REFERENCES sites(name),
  url TEXT NOT NULL,
  status TEXT NOT NULL,
  last_attempt_at {BIGINT},
  last_success_at {BIGINT},
  last_error TEXT,
  last_version INTEGER
);
`,
  },
  {
    // upstream trust lists are accepted only from one pinned signer identity
    version: 2,
    sql: `
ALTER TABLE subscriptions ADD COLUMN signer_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN signer_subject TEXT NOT NULL DEFAULT '';
`,
  },
];

function dialectSql(db: Db, sql: string): string {
  const blob = db.dialect === 'postgres' ? 'BYTEA' : 'BLOB';
  return sql.replaceAll('{BLOB}', blob).replaceAll('{BIGINT}', 'BIGINT');
}

export const latestSchemaVersion = Math.max(...steps.map((s) => s.version));

export async function migrate(db: Db): Promise<number> {
  await db.execScript(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
  );
  const appliedRows = await db.all<{ version: number }>('SELECT version FROM schema_migrations');
  const applied = new Set(appliedRows.map((r) => Number(r.version)));
  for (const step of steps) {
    if (applied.has(step.version)) continue;
    // pg runs a multi-statement string in one round trip; BEGIN/COMMIT make the step atomic on both
    await db.execScript(
      `BEGIN; ${dialectSql(db, step.sql)}; INSERT INTO schema_migrations VALUES (${step.version}, ${Date.now()}); COMMIT;`,
    );
  }
  return latestSchemaVersion;
}
