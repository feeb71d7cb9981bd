// pg behind the async Db door; all tables live in one schema (search_path), BIGINT read as number.
import pg from 'pg';
import type { Db, SqlExecutor, SqlValue } from './db.js';

const INT8_OID = 20;

/** '?' placeholders → $1, $2 … (our SQL never has '?' inside literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    all: async <T>(sql: string, params: SqlValue[] = []) =>
      (await client.query(numbered(sql), params)).rows as T[],
    get: async <T>(sql: string, params: SqlValue[] = []) =>
      (await client.query(numbered(sql), params)).rows[0] as T | undefined,
    run: async (sql: string, params: SqlValue[] = []) => ({
      changes: (await client.query(numbered(sql), params)).rowCount ?? 0,
    }),
  };
}

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly direct: SqlExecutor;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
    this.direct = executor(pool);
  }

  static async connect(url: string, schema: string): Promise<PostgresDb> {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid PostgreSQL schema name "${schema}"`);
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    try {
      await setup.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await setup.end();
    }
    const pool = new pg.Pool({
      connectionString: url,
      options: `-c search_path=${schema}`,
      max: 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID
            ? (v: string) => Number(v)
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    pool.on('error', () => undefined); // idle client errors surface on the next query instead
    return new PostgresDb(pool);
  }

  all<T>(sql: string, params?: SqlValue[]): Promise<T[]> {
    return this.direct.all<T>(sql, params);
  }
  get<T>(sql: string, params?: SqlValue[]): Promise<T | undefined> {
    return this.direct.get<T>(sql, params);
  }
  run(sql: string, params?: SqlValue[]): Promise<{ changes: number }> {
    return this.direct.run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async execScript(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
