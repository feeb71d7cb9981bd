// The converter's private state (SQLite in the repository's state directory): when each tree
// was first seen unreferenced (GC grace), which images a wishlist put in the repository, who
// owns each public image path (one owner per path: a wishlist or an approved entry), and the
// durable outbox of webhook events. The repository itself stays the source of truth for what
// is published; this only remembers what the repository cannot say.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ContainerError } from './errors.js';

const DDL = `
CREATE TABLE IF NOT EXISTS gc_unreferenced (path TEXT PRIMARY KEY, since INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS wishlist_images (wishlist TEXT NOT NULL, fqrn TEXT NOT NULL, image TEXT NOT NULL,
  PRIMARY KEY (wishlist, fqrn, image));
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL,
  source TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0, last_error TEXT, done_at INTEGER);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (done_at, next_attempt_at);
CREATE TABLE IF NOT EXISTS image_owners (fqrn TEXT NOT NULL, path TEXT NOT NULL, owner TEXT NOT NULL,
  reference TEXT NOT NULL, since INTEGER NOT NULL, PRIMARY KEY (fqrn, path));
CREATE TABLE IF NOT EXISTS wishlist_owners_seeded (wishlist TEXT NOT NULL, fqrn TEXT NOT NULL,
  PRIMARY KEY (wishlist, fqrn));
`;

/** The owner name of a wishlist's images (its `user`). */
export const wishlistOwner = (name: string): string => `wishlist:${name}`;
/** The owner name of an approved catalog entry's image. */
export const approvedOwner = (entryId: string): string => `approved:${entryId}`;

export interface ImageOwner {
  readonly owner: string;
  readonly reference: string;
  readonly since: number;
}

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

  /** Who owns a public image path of the repository, if anyone. */
  ownerOf(fqrn: string, path: string): ImageOwner | undefined {
    return this.db
      .prepare('SELECT owner, reference, since FROM image_owners WHERE fqrn = ? AND path = ?')
      .get(fqrn, path) as ImageOwner | undefined;
  }

  /** Every owned public path of the repository (path → owner). */
  owners(fqrn: string): Map<string, string> {
    const rows = this.db
      .prepare('SELECT path, owner FROM image_owners WHERE fqrn = ? ORDER BY path')
      .all(fqrn) as { path: string; owner: string }[];
    return new Map(rows.map((r) => [r.path, r.owner]));
  }

  /**
   * Takes (or confirms) ownership of a public image path before converting into it, atomically
   * across processes (an IMMEDIATE transaction). Refused with TAG_CONFLICT when another owner
   * holds the path, or when a wishlist recorded the image before owners were recorded and has
   * not been applied since (its ownership is not known yet). `fresh` says whether the claim is
   * new (the caller gives it back with `release` when the conversion fails).
   */
  claim(fqrn: string, path: string, owner: string, reference: string, now = Date.now()): { fresh: boolean } {
    const tx = this.db.transaction(() => {
      const current = this.ownerOf(fqrn, path);
      if (current && current.owner !== owner && heldByDeadOperator(current.owner))
        this.release(fqrn, path, current.owner); // an operator command that crashed mid-way
      else if (current) {
        if (current.owner === owner) return { fresh: false };
        throw conflict(fqrn, path, current.owner);
      }
      const legacy = this.db
        .prepare(
          `SELECT wishlist FROM wishlist_images w WHERE fqrn = ? AND image = ? AND NOT EXISTS
             (SELECT 1 FROM wishlist_owners_seeded s WHERE s.wishlist = w.wishlist AND s.fqrn = w.fqrn)
           ORDER BY rowid LIMIT 1`,
        )
        .get(fqrn, reference) as { wishlist: string } | undefined;
      if (legacy && wishlistOwner(legacy.wishlist) !== owner)
        throw conflict(
          fqrn,
          path,
          wishlistOwner(legacy.wishlist),
          ' (recorded before owners were; applying that wishlist settles it)',
        );
      this.db
        .prepare('INSERT INTO image_owners (fqrn, path, owner, reference, since) VALUES (?, ?, ?, ?, ?)')
        .run(fqrn, path, owner, reference, Math.floor(now / 1000));
      return { fresh: true };
    });
    return tx.immediate();
  }

  /** Gives a path up (only if `owner` holds it); another source may then take it. */
  release(fqrn: string, path: string, owner: string): void {
    this.db
      .prepare('DELETE FROM image_owners WHERE fqrn = ? AND path = ? AND owner = ?')
      .run(fqrn, path, owner);
  }

  /** A wishlist's image is gone: its record and its ownership go together. */
  releaseWishlistImage(wishlist: string, fqrn: string, image: string, path: string): void {
    this.db.transaction(() => {
      this.removeWishlistImage(wishlist, fqrn, image);
      this.release(fqrn, path, wishlistOwner(wishlist));
    })();
  }

  /**
   * Upgrade: state written before owners were recorded knows a wishlist's images only by
   * reference. The first apply of each wishlist afterwards makes it the owner of the public
   * paths (under its own basePath, which only it knows) of the images it recorded, unless
   * someone owns them already (another wishlist that recorded the same image and was applied
   * first). Runs once per wishlist and repository.
   */
  seedWishlistOwners(
    wishlist: string,
    fqrn: string,
    pathOf: (image: string) => string,
    now = Date.now(),
  ): string[] {
    const tx = this.db.transaction(() => {
      const done = this.db
        .prepare('SELECT 1 FROM wishlist_owners_seeded WHERE wishlist = ? AND fqrn = ?')
        .get(wishlist, fqrn);
      if (done) return [];
      const insert = this.db.prepare(
        'INSERT OR IGNORE INTO image_owners (fqrn, path, owner, reference, since) VALUES (?, ?, ?, ?, ?)',
      );
      const seeded: string[] = [];
      for (const image of this.wishlistImages(wishlist, fqrn)) {
        let path: string;
        try {
          path = pathOf(image);
        } catch {
          continue; // a record no reference parser accepts any more owns nothing
        }
        if (insert.run(fqrn, path, wishlistOwner(wishlist), image, Math.floor(now / 1000)).changes > 0)
          seeded.push(path);
      }
      this.db
        .prepare('INSERT INTO wishlist_owners_seeded (wishlist, fqrn) VALUES (?, ?)')
        .run(wishlist, fqrn);
      return seeded;
    });
    return tx.immediate();
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

/** The owner name of a hand-run `container ingest`/`remove`, held while it works. */
export const operatorOwner = (pid = process.pid): string => `operator:${pid}`;

/** An operator hold whose process is gone (the state directory is local to this host). */
function heldByDeadOperator(owner: string): boolean {
  const m = /^operator:(\d+)$/.exec(owner);
  if (!m) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function conflict(fqrn: string, path: string, owner: string, note = ''): ContainerError {
  return new ContainerError('TAG_CONFLICT', `${fqrn}:${path} is owned by ${owner}${note}`);
}

/** The state lives next to the repository's own private state. */
export function openState(stateDir: string, fqrn: string): ContainerState {
  return new ContainerState(join(stateDir, fqrn));
}

export interface OwnedImage extends ImageOwner {
  readonly path: string;
}

/**
 * Every owned public image path of the repository, read-only: a repository without container
 * state (or with state from before owners were recorded) has none, and none is created.
 */
export function ownedImages(stateDir: string, fqrn: string): OwnedImage[] {
  const file = join(stateDir, fqrn, 'containers.db');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'image_owners'").get())
      return [];
    return db
      .prepare('SELECT path, owner, reference, since FROM image_owners WHERE fqrn = ? ORDER BY path')
      .all(fqrn) as OwnedImage[];
  } finally {
    db.close();
  }
}
