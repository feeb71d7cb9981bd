// Applies a batch of staged object changes to one repository in one transaction: a file is
// added (replacing what was at its path), a tar is unpacked into a fresh directory, a
// vanished object's path is removed along with directories it leaves empty (up to the
// mapped root). The batch publishes whole or not at all.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Repository } from '../../repo/repository.js';
import { importTar } from '../../writer/import-tar.js';
import { type PublishResult, withTransaction } from '../../writer/publish.js';
import type { Transaction } from '../../writer/transaction.js';
import type { ObjectChange } from './events.js';

export interface StagedChange {
  readonly change: ObjectChange;
  /** The object's current bytes, in memory (small objects) or in a staging file. */
  readonly bytes?: Buffer;
  readonly file?: string;
  readonly etag: string;
  readonly sizeBytes: number;
  /** Repository path above which emptied directories are kept (the mapping's root). */
  readonly root: string;
}

/** False when the object no longer exists in S3 (its path is to be removed). */
export function hasContent(staged: StagedChange): boolean {
  return staged.bytes !== undefined || staged.file !== undefined;
}

async function pruneEmptyParents(tx: Transaction, path: string, root: string): Promise<void> {
  for (let dir = path.slice(0, path.lastIndexOf('/')); dir.length > root.length; ) {
    if (tx.get(dir)?.kind !== 'dir' || tx.list(dir).length > 0) return;
    await tx.remove(dir);
    dir = dir.slice(0, dir.lastIndexOf('/'));
  }
}

async function applyOne(tx: Transaction, staged: StagedChange): Promise<void> {
  const { target } = staged.change;
  if (!hasContent(staged)) {
    if (await tx.remove(target)) await pruneEmptyParents(tx, target, staged.root);
    return;
  }
  if (staged.change.kind === 'tar') {
    await tx.remove(target);
    await tx.addDirectory(target);
    const input = staged.bytes ? Readable.from([staged.bytes]) : createReadStream(staged.file as string);
    await importTar(tx, input, target);
    return;
  }
  if (tx.get(target)?.kind === 'dir') await tx.remove(target);
  await tx.addFile(target, staged.bytes ?? { file: staged.file as string });
}

export async function applyBatch(repo: Repository, batch: readonly StagedChange[]): Promise<PublishResult> {
  return withTransaction(repo, async (tx) => {
    for (const staged of batch) await applyOne(tx, staged);
  });
}
