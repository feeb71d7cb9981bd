// Changes to the catalog structure before commit: nested catalogs created where a
// .cvmfscatalog marker appeared, merged back where the markers went away, and automatic
// splits of catalogs that grew past the entry limit (marked with .cvmfsautocatalog).
import type { CatalogDb } from '../catalog/catalog-db.js';
import { type Dirent, S_IFREG } from '../catalog/dirent.js';
import { AUTO_CATALOG_MARKER, CATALOG_MARKER, type CatalogTree } from './catalog-tree.js';
import { WorkingCatalog } from './working-catalog.js';

function depthOf(path: string): number {
  return path === '' ? 0 : path.split('/').length - 1;
}

/** Moves every row beneath `dirPath` from one catalog to another, with nested references. */
function moveSubtree(
  tree: CatalogTree,
  from: WorkingCatalog,
  to: WorkingCatalog,
  dirPath: string,
  groupOffset: number,
): void {
  for (const child of from.db.children(dirPath)) {
    const path = `${dirPath}/${child.name}`;
    const moved: Dirent =
      child.hardlinkGroup === 0 ? child : { ...child, hardlinkGroup: child.hardlinkGroup + groupOffset };
    to.db.put(path, moved);
    from.db.delete(path);
    if (child.kind !== 'dir') continue;
    if (from.nestedPaths.has(path)) {
      const nested = tree.child(from, path);
      const ref = from.db.nested().find((n) => n.path === path);
      from.removeNested(path);
      to.addNested({ path, hash: ref?.hash ?? '', sizeBytes: ref?.sizeBytes ?? 0 });
      nested.parent = to;
    } else {
      moveSubtree(tree, from, to, path, groupOffset);
    }
  }
  from.dirty = true;
  to.dirty = true;
}

/** Turns directory `dirPath` into the root of a new nested catalog. */
export function makeNested(tree: CatalogTree, dirPath: string): WorkingCatalog {
  const owner = tree.catalogFor(dirPath);
  const dir = owner.db.get(dirPath) as Dirent;
  const created = WorkingCatalog.create(tree.workDir, dirPath, { ...dir, nestedRoot: true }, owner);
  tree.loaded.set(dirPath, created);
  moveSubtree(tree, owner, created, dirPath, 0);
  owner.db.put(dirPath, { ...dir, nestedRoot: false, nestedMountpoint: true });
  owner.addNested({ path: dirPath, hash: '', sizeBytes: 0 });
  owner.structureChanged = true;
  return created;
}

/** Folds a nested catalog back into its parent. */
export function mergeIntoParent(tree: CatalogTree, catalog: WorkingCatalog): void {
  const parent = catalog.parent as WorkingCatalog;
  const root = catalog.db.get(catalog.mountpoint) as Dirent;
  moveSubtree(tree, catalog, parent, catalog.mountpoint, parent.db.maxHardlinkGroup());
  parent.db.put(catalog.mountpoint, { ...root, nestedRoot: false, nestedMountpoint: false });
  parent.removeNested(catalog.mountpoint);
  parent.structureChanged = true;
  catalog.removed = true;
  tree.loaded.delete(catalog.mountpoint);
  tree.dropped.push(catalog);
}

/** Creates or merges nested catalogs where markers were added or removed, shallowest first. */
export function reconcileMarkers(tree: CatalogTree): void {
  const dirs = [...tree.markerChanges].sort((a, b) => depthOf(a) - depthOf(b));
  for (const dirPath of dirs) {
    const dir = tree.get(dirPath);
    if (dir?.kind !== 'dir' || dirPath === '') continue;
    const marked =
      tree.get(`${dirPath}/${CATALOG_MARKER}`) !== undefined ||
      tree.get(`${dirPath}/${AUTO_CATALOG_MARKER}`) !== undefined;
    const mounted = tree.isMountpoint(dirPath);
    if (marked && !mounted) makeNested(tree, dirPath);
    else if (!marked && mounted) mergeIntoParent(tree, tree.catalogFor(dirPath));
  }
  tree.markerChanges.clear();
}

/** Entry counts of every directory subtree within one catalog (mountpoints count as one row). */
function subtreeWeights(
  db: CatalogDb,
  nested: Set<string>,
  dirPath: string,
  out: Map<string, number>,
): number {
  let weight = 1;
  for (const child of db.children(dirPath)) {
    const path = `${dirPath}/${child.name}`;
    weight += child.kind === 'dir' && !nested.has(path) ? subtreeWeights(db, nested, path, out) : 1;
  }
  out.set(dirPath, weight);
  return weight;
}

/**
 * Splits catalogs above `maxEntries` by moving their heaviest directory subtrees into new
 * nested catalogs until each is under the limit (a single huge flat directory cannot be split).
 */
export function splitOversized(tree: CatalogTree, maxEntries: number, emptyObjectHash: string): number {
  let created = 0;
  const work = [...tree.loaded.values()].filter((c) => c.dirty);
  while (work.length > 0) {
    const catalog = work.pop() as WorkingCatalog;
    while (catalog.db.entryCount() > maxEntries) {
      const weights = new Map<string, number>();
      subtreeWeights(catalog.db, catalog.nestedPaths, catalog.mountpoint, weights);
      weights.delete(catalog.mountpoint);
      let best: string | undefined;
      for (const [path, w] of weights)
        if (w > 1 && (best === undefined || w > (weights.get(best) ?? 0))) best = path;
      if (best === undefined) break;
      const dir = catalog.db.get(best) as Dirent;
      catalog.db.put(`${best}/${AUTO_CATALOG_MARKER}`, {
        name: AUTO_CATALOG_MARKER,
        kind: 'file',
        mode: S_IFREG | 0o644,
        sizeBytes: 0,
        mtime: dir.mtime,
        uid: dir.uid,
        gid: dir.gid,
        hash: emptyObjectHash,
        compressed: true,
        linkcount: 1,
        hardlinkGroup: 0,
      });
      work.push(makeNested(tree, best));
      created++;
    }
  }
  return created;
}
