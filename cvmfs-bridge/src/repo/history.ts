// The history database (upstream cvmfs/history_sql.cc, schema 1.0 revision 3): named tags
// pointing at root catalogs. Stored as a zlib object with suffix H, referenced by manifest H.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BridgeError } from '../errors.js';
import type { ObjectStore } from '../store/object-store.js';

export interface Tag {
  readonly name: string;
  readonly rootHash: string;
  readonly revision: number;
  readonly timestamp: number;
  readonly description: string;
  readonly sizeBytes: number;
}

const HISTORY_DDL = `
CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));
CREATE TABLE branches (branch TEXT, parent TEXT, initial_revision INTEGER,
  CONSTRAINT pk_branch PRIMARY KEY (branch), FOREIGN KEY (parent) REFERENCES branches (branch),
  CHECK ((branch <> '') OR (parent IS NULL)), CHECK ((branch = '') OR (parent IS NOT NULL)));
INSERT INTO branches (branch, parent, initial_revision) VALUES ('', NULL, 0);
CREATE TABLE tags (name TEXT, hash TEXT, revision INTEGER, timestamp INTEGER, channel INTEGER,
  description TEXT, size INTEGER, branch TEXT, CONSTRAINT pk_tags PRIMARY KEY (name),
  FOREIGN KEY (branch) REFERENCES branches (branch));
CREATE TABLE recycle_bin (hash TEXT, flags INTEGER, CONSTRAINT pk_hash PRIMARY KEY (hash));
`;

export function requireTagName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw new BridgeError('BAD_INPUT', `tag name must be letters, digits, '.', '_' or '-': ${name}`);
  }
  return name;
}

/** Opens the history object `hash` (or a new empty history) as a writable temp database. */
function openWorking(
  store: ObjectStore,
  workDir: string,
  fqrn: string,
  hash?: string,
): { db: Database.Database; file: string } {
  mkdirSync(workDir, { recursive: true });
  const file = join(workDir, `history.${randomBytes(6).toString('hex')}.sqlite`);
  if (hash) writeFileSync(file, store.read(hash, 'H'));
  const db = new Database(file);
  db.pragma('journal_mode = DELETE');
  if (!hash) {
    db.exec(HISTORY_DDL);
    const set = db.prepare('INSERT INTO properties (key, value) VALUES (?, ?)');
    set.run('schema', '1.0');
    set.run('schema_revision', '3');
    set.run('fqrn', fqrn);
  }
  return { db, file };
}

export function readTags(store: ObjectStore, workDir: string, fqrn: string, hash: string | undefined): Tag[] {
  if (!hash) return [];
  const { db, file } = openWorking(store, workDir, fqrn, hash);
  try {
    const rows = db
      .prepare('SELECT name, hash, revision, timestamp, description, size FROM tags ORDER BY revision, name')
      .all() as {
      name: string;
      hash: string;
      revision: number;
      timestamp: number;
      description: string | null;
      size: number;
    }[];
    return rows.map((r) => ({
      name: r.name,
      rootHash: r.hash,
      revision: Number(r.revision),
      timestamp: Number(r.timestamp),
      description: r.description ?? '',
      sizeBytes: Number(r.size),
    }));
  } finally {
    db.close();
    rmSync(file, { force: true });
  }
}

/** Applies tag additions/removals and stores the new history object; returns its hash. */
export function updateHistory(
  store: ObjectStore,
  workDir: string,
  fqrn: string,
  hash: string | undefined,
  change: { add?: Tag[]; remove?: string[] },
): string {
  const { db, file } = openWorking(store, workDir, fqrn, hash);
  try {
    const insert = db.prepare(
      `INSERT OR REPLACE INTO tags (name, hash, revision, timestamp, channel, description, size, branch)
       VALUES (?, ?, ?, ?, 0, ?, ?, '')`,
    );
    const del = db.prepare('DELETE FROM tags WHERE name = ?');
    db.transaction(() => {
      for (const name of change.remove ?? []) {
        if (del.run(name).changes === 0) throw new BridgeError('NOT_FOUND', `tag ${name} does not exist`);
      }
      for (const t of change.add ?? []) {
        insert.run(requireTagName(t.name), t.rootHash, t.revision, t.timestamp, t.description, t.sizeBytes);
      }
    })();
    db.close();
    return store.putCompressed(readFileSync(file), 'H');
  } finally {
    if (db.open) db.close();
    rmSync(file, { force: true });
  }
}
