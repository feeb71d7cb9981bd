// Writes the changed catalogs of a transaction, deepest first, so every parent records its
// children's new hashes and subtree statistics before it is itself compressed and stored.
import { readFileSync } from 'node:fs';
import { addCounters, type Counters, isZero } from '../catalog/schema.js';
import type { CatalogTree } from './catalog-tree.js';
import type { WorkingCatalog } from './working-catalog.js';

export interface CommittedRoot {
  readonly hash: string;
  readonly sizeBytes: number;
  /** Mountpoints of the catalogs written in this commit. */
  readonly written: readonly string[];
}

export interface CommitOptions {
  readonly revision: number;
  readonly publishedAt: number;
  readonly compressionLevel: number;
}

function storeCatalog(
  tree: CatalogTree,
  catalog: WorkingCatalog,
  options: CommitOptions,
): { hash: string; sizeBytes: number } {
  catalog.db.setProperty('revision', String(options.revision));
  catalog.db.setProperty('last_modified', String(options.publishedAt));
  if (catalog.oldHash) catalog.db.setProperty('previous_revision', catalog.oldHash);
  catalog.db.close();
  const bytes = readFileSync(catalog.db.file);
  return { hash: tree.store.putCompressed(bytes, 'C', options.compressionLevel), sizeBytes: bytes.length };
}

export function commitCatalogs(tree: CatalogTree, options: CommitOptions): CommittedRoot {
  const subtract = (target: WorkingCatalog | undefined, c: Counters) => {
    if (!target || target.removed || isZero(c)) return;
    target.delta = addCounters(target.delta, c, -1n);
    target.dirty = true;
  };
  for (const gone of tree.dropped) subtract(gone.originalParent, gone.oldTotal);

  const live = [...tree.loaded.values()].sort((a, b) => b.depth - a.depth);
  const written: string[] = [];
  let rootResult = { hash: '', sizeBytes: 0 };
  for (const catalog of live) {
    const isRoot = catalog.mountpoint === '';
    const moved = catalog.parent !== catalog.originalParent;
    if (!catalog.dirty && !isRoot && !moved && isZero(catalog.delta)) continue;
    const self = catalog.db.countSelf();
    const subtree = addCounters(catalog.oldSubtree, catalog.delta);
    catalog.db.setCounters('self', self);
    catalog.db.setCounters('subtree', subtree);
    const stored = storeCatalog(tree, catalog, options);
    written.push(catalog.mountpoint);
    if (isRoot) {
      rootResult = stored;
      continue;
    }
    subtract(catalog.originalParent, catalog.oldTotal);
    const parent = catalog.parent as WorkingCatalog;
    parent.delta = addCounters(parent.delta, addCounters(self, subtree));
    parent.addNested({ path: catalog.mountpoint, hash: stored.hash, sizeBytes: stored.sizeBytes });
  }
  return { ...rootResult, written };
}
