// withTransaction: opens a transaction on a repository, runs the caller's changes, and
// publishes them — objects, then catalogs deepest first, then history, then the signed
// manifest, written last and atomically. Any failure aborts and leaves the published
// revision untouched; leftovers of a crash are swept by the next transaction.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { BridgeError } from '../errors.js';
import { updateHistory } from '../repo/history.js';
import type { Repository } from '../repo/repository.js';
import { holdRepository } from '../repo/turns.js';
import { ContentCache } from '../store/content-cache.js';
import { startFlush } from '../store/flush.js';
import { type PoolLease, takePool } from '../store/pool-reuse.js';
import { commitCatalogs } from './catalog-commit.js';
import { reconcileMarkers, splitOversized } from './catalog-structure.js';
import { CatalogTree } from './catalog-tree.js';
import { Transaction } from './transaction.js';

/** Bytes stored between the background flushes started while a transaction stores contents. */
const WRITE_BACK_BYTES = 16 * 1024 * 1024;

export const PUBLISH_STEPS = [
  'objects-stored',
  'catalogs-structured',
  'catalogs-written',
  'history-written',
  'manifest-staged',
] as const;
export type PublishStep = (typeof PUBLISH_STEPS)[number];

export interface PublishOptions {
  /** Adds a named tag for the new revision. */
  readonly tag?: { name: string; description?: string };
  /** Called at each step; throwing simulates a crash there (tests). */
  readonly onStep?: (step: PublishStep) => void;
  readonly now?: () => Date;
}

export interface PublishResult {
  readonly revision: number;
  readonly rootCatalogHash: string;
  readonly catalogsWritten: number;
  readonly catalogsSplit: number;
  readonly filesStored: number;
  readonly bytesStored: number;
  readonly objectsReused: number;
}

export async function withTransaction(
  repo: Repository,
  fn: (tx: Transaction) => Promise<void>,
  options: PublishOptions = {},
): Promise<PublishResult> {
  // This process's transactions on the repository take turns; then the lock file (repo/turns.ts).
  const hold = await holdRepository(repo.layout.lockFile, { waitSeconds: repo.settings.lockWaitSeconds });
  const workDir = join(repo.layout.workDir, `tx-${process.pid}-${Date.now()}`);
  let tree: CatalogTree | undefined;
  let pool: { lease: PoolLease; release: () => Promise<void> } | undefined;
  let cache: ContentCache | undefined;
  try {
    // Sweep what a crashed transaction left behind: unreferenced temp objects and work files.
    repo.store.clearTxn();
    rmSync(repo.layout.workDir, { recursive: true, force: true });
    const previous = repo.manifest();
    tree = new CatalogTree(repo.store, workDir, {
      path: '',
      hash: previous.rootCatalogHash,
      sizeBytes: previous.rootCatalogSizeBytes,
    });
    cache = new ContentCache(repo.layout.cacheDbFile);
    // Started threads are kept for the next transaction of this process (store/pool-reuse.ts).
    pool = takePool({
      dataDir: repo.store.dataDir,
      workers: repo.settings.workers,
      compressionLevel: repo.settings.compressionLevel,
      cacheDbPath: cache.file,
    });
    const tx = new Transaction(tree, pool.lease, cache, repo.store.txnDir, {
      dir: repo.store.dataDir,
      everyBytes: WRITE_BACK_BYTES,
    });
    await hold.run(() => fn(tx));
    await tx.flush();
    cache.flush();
    // The objects' write-back runs while the catalogs are built; the manifest waits for it.
    // (A flush costs this thread a pipe write to the flush helper, store/flush.ts.)
    const objectsOnDisk = tx.stats.filesStored > 0 ? startFlush(repo.store.dataDir) : undefined;
    options.onStep?.('objects-stored');

    reconcileMarkers(tree);
    const emptyHash = repo.store.putCompressed(Buffer.alloc(0), '');
    const catalogsSplit = splitOversized(tree, repo.settings.maxCatalogEntries, emptyHash);
    options.onStep?.('catalogs-structured');

    const now = options.now?.() ?? new Date();
    const publishedAt = Math.max(Math.floor(now.getTime() / 1000), previous.publishedAt);
    const revision = previous.revision + 1;
    const root = commitCatalogs(tree, {
      revision,
      publishedAt,
      compressionLevel: repo.settings.compressionLevel,
    });
    options.onStep?.('catalogs-written');

    const historyHash = options.tag
      ? updateHistory(repo.store, workDir, repo.fqrn, previous.historyHash, {
          add: [
            {
              name: options.tag.name,
              rootHash: root.hash,
              revision,
              timestamp: publishedAt,
              description: options.tag.description ?? '',
              sizeBytes: root.sizeBytes,
            },
          ],
        })
      : previous.historyHash;
    options.onStep?.('history-written');

    // The working copies of the catalogs are stored as objects now: deleted before the flush,
    // their dirty pages are dropped instead of written to disk for nothing.
    tree.close();
    rmSync(workDir, { recursive: true, force: true });
    // Everything the manifest names, off the event loop; nothing is written after it but the
    // manifest itself (fsynced by writeManifest).
    await objectsOnDisk;
    await startFlush(repo.store.dataDir);
    repo.writeManifest(
      {
        ...previous,
        rootCatalogHash: root.hash,
        rootCatalogSizeBytes: root.sizeBytes,
        revision,
        publishedAt,
        ttlSeconds: repo.settings.ttlSeconds,
        ...(historyHash ? { historyHash } : {}),
      },
      { dataFlushed: true, beforeRename: () => options.onStep?.('manifest-staged') },
    );
    return {
      revision,
      rootCatalogHash: root.hash,
      catalogsWritten: root.written.length,
      catalogsSplit,
      ...tx.stats,
    };
  } catch (error) {
    if (error instanceof BridgeError) throw error;
    throw new BridgeError('ABORTED', `transaction aborted: ${(error as Error).message}`, { cause: error });
  } finally {
    await pool?.release();
    cache?.close();
    tree?.close();
    rmSync(workDir, { recursive: true, force: true });
    hold.release();
  }
}
