// The audit log as a hash chain: each record's hash covers its fields and the previous hash,
// so editing, removing or reordering any record breaks every later link.
import { createHash } from 'node:crypto';
import { type AuditRecord, auditPage, insertAudit, lastAudit, lockAuditTail } from '../storage/audit-repo.js';
import type { Db, SqlExecutor } from '../storage/db.js';

export const genesisHash = '0'.repeat(64);

export function recordHash(r: Omit<AuditRecord, 'hash'>): string {
  const canonical = JSON.stringify([r.seq, r.at, r.actor, r.action, r.target, r.detail, r.prevHash]);
  return createHash('sha256').update(canonical).digest('hex');
}

export interface AuditEvent {
  actor: string;
  action: string;
  target: string;
  detail?: Record<string, unknown>;
}

/** Appends inside the caller's transaction, so the write and its audit record commit together. */
export async function appendAudit(
  db: Db,
  tx: SqlExecutor,
  event: AuditEvent,
  now: Date,
): Promise<AuditRecord> {
  await lockAuditTail(db, tx);
  const last = await lastAudit(tx);
  const partial = {
    seq: (last?.seq ?? 0) + 1,
    at: now.toISOString(),
    actor: event.actor,
    action: event.action,
    target: event.target,
    detail: JSON.stringify(event.detail ?? {}),
    prevHash: last?.hash ?? genesisHash,
  };
  const record = { ...partial, hash: recordHash(partial) };
  await insertAudit(tx, record);
  return record;
}

export type ChainCheck =
  | { ok: true; records: number; headHash: string }
  | { ok: false; records: number; brokenAtSeq: number; reason: string };

export async function verifyAuditChain(db: SqlExecutor, pageSize = 1000): Promise<ChainCheck> {
  let prevHash = genesisHash;
  let expectedSeq = 1;
  let records = 0;
  for (;;) {
    const page = await auditPage(db, expectedSeq - 1, pageSize);
    for (const r of page) {
      if (r.seq !== expectedSeq)
        return { ok: false, records, brokenAtSeq: expectedSeq, reason: 'record missing' };
      if (r.prevHash !== prevHash)
        return { ok: false, records, brokenAtSeq: r.seq, reason: 'previous-hash link broken' };
      if (recordHash(r) !== r.hash)
        return { ok: false, records, brokenAtSeq: r.seq, reason: 'record hash mismatch' };
      prevHash = r.hash;
      expectedSeq++;
      records++;
    }
    if (page.length < pageSize) return { ok: true, records, headHash: prevHash };
  }
}
