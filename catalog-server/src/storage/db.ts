// The small SQL door both backends implement: '?' placeholders, rows as plain objects,
// transactions that always commit or roll back. Repository code is written once against it.
export type SqlValue = string | number | null | Buffer;

export interface SqlExecutor {
  all<T>(sql: string, params?: SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: SqlValue[]): Promise<{ changes: number }>;
}

export interface Db extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Executes several statements (migrations). */
  execScript(sql: string): Promise<void>;
  close(): Promise<void>;
}
