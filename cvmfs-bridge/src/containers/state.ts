// The converter's private state (SQLite in the repository's state directory): when each tree
// was first seen unreferenced (GC grace), which images a wishlist put in the repository, and
// the durable outbox of webhook events. The repository itself stays the source of truth for
// what is published; this only remembers what the repository cannot say.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const DDL = `
CREATE TABLE IF NOT EXISTS gc_unreferenced (path TEXT PRIMARY KEY, since INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS wishlist_images (wishlist TEXT NOT NULL, fqrn TEXT NOT NULL, image TEXT NOT NULL,
  PRIMARY KEY (wishlist, fqrn, image));
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL,
  source TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0, last_error TEXT, done_at INTEGER);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (done_at, next_attempt_at);
`;

export interface OutboxRow {
  readonly id: number;
  readonly source: string;
  readonly payload: string;
  readonly attempts: number;
}

export class ContainerState {
  private readonly db: Database.Database;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(dir, 'containers.db'));
    this.db.pragma('journal_mode = WAL');
    // FULL: an event acknowledged to the registry must survive a power cut.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(DDL);
  }

  /** Records first-seen times; returns path → since for every currently unreferenced path. */
  markUnreferenced(paths: readonly string[], now: number): Map<string, number> {
    const tx = this.db.transaction(() => {
      const keep = new Set(paths);
      for (const row of this.db.prepare('SELECT path FROM gc_unreferenced').all() as { path: string }[])
        if (!keep.has(row.path)) this.db.prepare('DELETE FROM gc_unreferenced WHERE path = ?').run(row.path);
      const insert = this.db.prepare('INSERT OR IGNORE INTO gc_unreferenced (path, since) VALUES (?, ?)');
      for (const p of paths) insert.run(p, now);
      const out = new Map<string, number>();
      for (const row of this.db.prepare('SELECT path, since FROM gc_unreferenced').all() as {
        path: string;
        since: number;
      }[])
        out.set(row.path, row.since);
      return out;
    });
    return tx();
  }

  forgetUnreferenced(paths: readonly string[]): void {
    const del = this.db.prepare('DELETE FROM gc_unreferenced WHERE path = ?');
    this.db.transaction(() => {
      for (const p of paths) del.run(p);
    })();
  }

  wishlistImages(wishlist: string, fqrn: string): string[] {
    return (
      this.db
        .prepare('SELECT image FROM wishlist_images WHERE wishlist = ? AND fqrn = ? ORDER BY image')
        .all(wishlist, fqrn) as {
        image: string;
      }[]
    ).map((r) => r.image);
  }

  addWishlistImage(wishlist: string, fqrn: string, image: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO wishlist_images (wishlist, fqrn, image) VALUES (?, ?, ?)')
      .run(wishlist, fqrn, image);
  }

  removeWishlistImage(wishlist: string, fqrn: string, image: string): void {
    this.db
      .prepare('DELETE FROM wishlist_images WHERE wishlist = ? AND fqrn = ? AND image = ?')
      .run(wishlist, fqrn, image);
  }

  /** Durably stores one received event before the HTTP answer; returns its id. */
  enqueue(source: string, payload: string, now = Date.now()): number {
    return Number(
      this.db
        .prepare('INSERT INTO outbox (received_at, source, payload) VALUES (?, ?, ?)')
        .run(now, source, payload).lastInsertRowid,
    );
  }

  nextDue(now = Date.now()): OutboxRow | undefined {
    return this.db
      .prepare(
        'SELECT id, source, payload, attempts FROM outbox WHERE done_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT 1',
      )
      .get(now) as OutboxRow | undefined;
  }

  complete(id: number, now = Date.now()): void {
    this.db.prepare('UPDATE outbox SET done_at = ?, last_error = NULL WHERE id = ?').run(now, id);
  }

  /** Schedules a retry with exponential backoff, or gives up (done with an error) after maxAttempts. */
  fail(id: number, error: string, maxAttempts: number, now = Date.now()): void {
    const row = this.db.prepare('SELECT attempts FROM outbox WHERE id = ?').get(id) as
      | { attempts: number }
      | undefined;
    const attempts = (row?.attempts ?? 0) + 1;
    const delay = Math.min(3_600_000, 1000 * 2 ** attempts);
    this.db
      .prepare(
        'UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ?, done_at = ? WHERE id = ?',
      )
      .run(attempts, error, now + delay, attempts >= maxAttempts ? now : null, id);
  }

  /** The most recent failure recorded in the outbox (for /healthz), if any. */
  lastError(): { id: number; attempts: number; error: string } | undefined {
    return this.db
      .prepare(
        'SELECT id, attempts, last_error AS error FROM outbox WHERE last_error IS NOT NULL ORDER BY id DESC LIMIT 1',
      )
      .get() as { id: number; attempts: number; error: string } | undefined;
  }

  pendingCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM outbox WHERE done_at IS NULL').get() as { n: number })
      .n;
  }

  close(): void {
    this.db.close();
  }
}

/** The state lives next to the repository's own private state. */
export function openState(stateDir: string, fqrn: string): ContainerState {
  return new ContainerState(join(stateDir, fqrn));
}
