// Content-hash cache: SHA-1 of uncompressed content → stored object, so content seen before
// is never compressed again. Workers read it (read-only); the main thread records new results.
import Database from 'better-sqlite3';
import type { StoredObject } from './worker-pool.js';

export class ContentCache {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private batch: StoredObject[] = [];

  constructor(file: string) {
    this.file = file;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS content (raw TEXT PRIMARY KEY, object TEXT NOT NULL, compressed INTEGER NOT NULL)',
    );
    this.insert = this.db.prepare(
      'INSERT OR REPLACE INTO content (raw, object, compressed) VALUES (?, ?, ?)',
    );
  }

  record(stored: StoredObject): void {
    if (stored.reused) return;
    this.batch.push(stored);
    if (this.batch.length >= 1000) this.flush();
  }

  flush(): void {
    const rows = this.batch;
    this.batch = [];
    this.db.transaction(() => {
      for (const s of rows) this.insert.run(s.rawHash, s.hash, s.compressed ? 1 : 0);
    })();
  }

  /** Drops entries whose objects garbage collection deleted. */
  forgetObjects(hashes: Iterable<string>): void {
    const del = this.db.prepare('DELETE FROM content WHERE object = ?');
    this.db.transaction(() => {
      for (const h of hashes) del.run(h);
    })();
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}
