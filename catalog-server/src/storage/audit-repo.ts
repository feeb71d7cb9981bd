// Rows of the append-only audit log. The chaining rule lives in audit/chain.ts.
import type { Db, SqlExecutor } from './db.js';

export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  /** JSON text, stored and hashed exactly as written. */
  detail: string;
  prevHash: string;
  hash: string;
}

interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail: string;
  prev_hash: string;
  hash: string;
}

const toRecord = (r: AuditRow): AuditRecord => ({
  seq: Number(r.seq),
  at: r.at,
  actor: r.actor,
  action: r.action,
  target: r.target,
  detail: r.detail,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/** Serialises appenders across replicas (PostgreSQL); SQLite transactions are already exclusive. */
export async function lockAuditTail(db: Db, tx: SqlExecutor): Promise<void> {
  if (db.dialect === 'postgres') await tx.run('SELECT pg_advisory_xact_lock(7306001)');
}

export async function lastAudit(db: SqlExecutor): Promise<AuditRecord | undefined> {
  const row = await db.get<AuditRow>('SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1');
  return row && toRecord(row);
}

export async function insertAudit(db: SqlExecutor, r: AuditRecord): Promise<void> {
  await db.run(
    'INSERT INTO audit_log (seq, at, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [r.seq, r.at, r.actor, r.action, r.target, r.detail, r.prevHash, r.hash],
  );
}

export async function auditPage(db: SqlExecutor, afterSeq: number, limit: number): Promise<AuditRecord[]> {
  return (
    await db.all<AuditRow>('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?', [afterSeq, limit])
  ).map(toRecord);
}
