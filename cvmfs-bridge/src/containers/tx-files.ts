// Small helpers for reading and writing whole (JSON) files inside an open transaction.
import type { Repository } from '../repo/repository.js';
import type { Transaction } from '../writer/transaction.js';

/** A file's bytes as the transaction currently sees it (stored objects only: flush first). */
export function readTxFile(tx: Transaction, repo: Repository, path: string): Buffer | undefined {
  const d = tx.get(path);
  if (d?.kind !== 'file' || !d.hash) return undefined;
  return repo.store.read(d.hash, '', d.compressed !== false);
}

export function readTxJson<T>(tx: Transaction, repo: Repository, path: string): T | undefined {
  const bytes = readTxFile(tx, repo, path);
  if (!bytes) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function writeTxJson(tx: Transaction, path: string, value: unknown): Promise<void> {
  await tx.addFile(path, Buffer.from(`${JSON.stringify(value, null, 2)}\n`), { mode: 0o644 });
}

/** Removes `path`, then its parents while they are empty, stopping at `stopAt`. */
export async function removeAndPrune(tx: Transaction, path: string, stopAt: string): Promise<boolean> {
  const removed = await tx.remove(path);
  for (
    let dir = path.slice(0, path.lastIndexOf('/'));
    dir.length > stopAt.length && dir.startsWith(`${stopAt}/`);
  ) {
    if (tx.list(dir).length > 0) break;
    await tx.remove(dir);
    dir = dir.slice(0, dir.lastIndexOf('/'));
  }
  return removed;
}
