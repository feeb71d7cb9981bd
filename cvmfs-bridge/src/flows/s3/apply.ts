// Applies a batch of staged object changes to one repository in one transaction: a file is
// added (replacing what was at its path), a tar is unpacked into a fresh directory, a
// vanished object's path is removed along with directories it leaves empty (up to the
// mapped root). The batch publishes whole or not at all.
import { createReadStream } from 'node:fs';
import type { Repository } from '../../repo/repository.js';
import { importTar } from '../../writer/import-tar.js';
import { type PublishResult, withTransaction } from '../../writer/publish.js';
import type { Transaction } from '../../writer/transaction.js';
import type { ObjectChange } from './events.js';

export interface StagedChange {
  readonly change: ObjectChange;
  /** Staged bytes of the object's current version; undefined: the object no longer exists. */
  readonly file?: string;
  readonly etag: string;
  readonly sizeBytes: number;
  /** Repository path above which emptied directories are kept (the mapping's root). */
  readonly root: string;
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
  if (staged.file === undefined) {
    if (await tx.remove(target)) await pruneEmptyParents(tx, target, staged.root);
    return;
  }
  if (staged.change.kind === 'tar') {
    await tx.remove(target);
    await tx.addDirectory(target);
    await importTar(tx, createReadStream(staged.file), target);
    return;
  }
  if (tx.get(target)?.kind === 'dir') await tx.remove(target);
  await tx.addFile(target, { file: staged.file });
}

export async function applyBatch(repo: Repository, batch: readonly StagedChange[]): Promise<PublishResult> {
  return withTransaction(repo, async (tx) => {
    for (const staged of batch) await applyOne(tx, staged);
  });
}
