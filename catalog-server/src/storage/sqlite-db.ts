// better-sqlite3 behind the async Db door. Transactions are serialised: while one is open,
// other callers wait, so no statement of theirs can slip into it.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Db, SqlExecutor, SqlValue } from './db.js';

export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private tail: Promise<unknown> = Promise.resolve();
  private busy = false;
  private readonly direct: SqlExecutor;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.direct = {
      all: async <T>(sql: string, params: SqlValue[] = []) => this.prepare(sql).all(...params) as T[],
      get: async <T>(sql: string, params: SqlValue[] = []) =>
        this.prepare(sql).get(...params) as T | undefined,
      run: async (sql: string, params: SqlValue[] = []) => ({
        changes: this.prepare(sql).run(...params).changes,
      }),
    };
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private async idle(): Promise<void> {
    while (this.busy) await this.tail.catch(() => undefined);
  }

  async all<T>(sql: string, params?: SqlValue[]): Promise<T[]> {
    await this.idle();
    return this.direct.all<T>(sql, params);
  }

  async get<T>(sql: string, params?: SqlValue[]): Promise<T | undefined> {
    await this.idle();
    return this.direct.get<T>(sql, params);
  }

  async run(sql: string, params?: SqlValue[]): Promise<{ changes: number }> {
    await this.idle();
    return this.direct.run(sql, params);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      await this.idle();
      this.busy = true;
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.direct);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      } finally {
        this.busy = false;
      }
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  async execScript(sql: string): Promise<void> {
    await this.idle();
    this.db.exec(sql);
  }

  async close(): Promise<void> {
    await this.idle();
    this.db.close();
  }
}
