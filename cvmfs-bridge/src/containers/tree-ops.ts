// Catalog-level tree operations inside one transaction: nested-catalog directories, copying
// a subtree by its rows (content objects are shared, nothing is re-read or re-compressed) and
// applying a layer onto a tree with OCI whiteout semantics. Pure row work: no content I/O.
import type { Dirent } from '../catalog/dirent.js';
import { makeNested } from '../writer/catalog-structure.js';
import type { EntryMeta, Transaction } from '../writer/transaction.js';
import { ContainerError } from './errors.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './layer-policy.js';
import { CATALOG_MARKERS } from './layout.js';

/** A row fit for a new place: no hard-link group (groups are per catalog), no nesting flags. */
function movable(d: Dirent): Dirent {
  const { nestedRoot: _r, nestedMountpoint: _m, ...rest } = d;
  return { ...rest, hardlinkGroup: 0, linkcount: d.kind === 'dir' ? 2 : 1 };
}

/** Creates `path` as a directory that is the root of its own nested catalog. */
export async function addNestedDirectory(tx: Transaction, path: string, meta: EntryMeta = {}): Promise<void> {
  await tx.addDirectory(path, meta);
  await tx.addFile(`${path}/.cvmfscatalog`, Buffer.alloc(0), { mode: 0o644, mtime: 0 });
  if (!tx.tree.isMountpoint(path)) makeNested(tx.tree, path);
}

/**
 * Copies the subtree `from` into the fresh nested-catalog root `to` (from addNestedDirectory,
 * still empty), catalog by catalog, in SQL (CatalogDb.copySubtreeFrom): no per-row lookups or
 * replacement checks, and the source's directory link counts stay exact because the whole
 * structure is copied. Catalog markers are never copied; `skipWhiteouts` drops `.wh.*` names too
 * (when the first layer seeds a chain). Returns the number of rows copied.
 */
export function copyIntoFreshCatalog(
  tx: Transaction,
  from: string,
  to: string,
  skipWhiteouts = false,
): number {
  const catalog = tx.tree.catalogFor(to);
  if (catalog.mountpoint !== to || tx.tree.children(to).some((c) => !CATALOG_MARKERS.has(c.name)))
    throw new ContainerError('LAYER_UNSAFE', `internal: ${to} is not a fresh nested catalog`);
  const exclude = { names: [...CATALOG_MARKERS], ...(skipWhiteouts ? { prefix: WHITEOUT_PREFIX } : {}) };
  let rows = 0;
  let topDirs = 0;
  // The source subtree may span nested catalogs (an automatic split of a large chain): each is
  // copied below the transition point its parent's copy made.
  const pending: { from: string; to: string }[] = [{ from, to }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const source = tx.tree.catalogFor(next.from);
    const copied = catalog.db.copySubtreeFrom(source.db, next.from, next.to, exclude);
    rows += copied.rows;
    if (next.from === from) topDirs = copied.topDirs;
    for (const mountpoint of source.nestedPaths) {
      if (!mountpoint.startsWith(`${next.from}/`)) continue;
      const target = `${next.to}${mountpoint.slice(next.from.length)}`;
      if (catalog.db.get(target)?.kind === 'dir') pending.push({ from: mountpoint, to: target });
    }
  }
  const root = catalog.db.get(to) as Dirent;
  const updated = { ...root, linkcount: 2 + topDirs };
  catalog.db.put(to, { ...updated, nestedRoot: true, nestedMountpoint: false });
  catalog.dirty = true;
  const parent = catalog.parent;
  if (parent) {
    parent.db.put(to, { ...updated, nestedRoot: false, nestedMountpoint: true });
    parent.dirty = true;
  }
  return rows;
}

function isWhiteout(name: string): boolean {
  return name.startsWith(WHITEOUT_PREFIX);
}

/** Pass 1: whiteouts of the layer delete from the lower tree (they never hide the layer's own entries). */
function applyDeletions(tx: Transaction, layerDir: string, destDir: string): number {
  let removed = 0;
  const children = tx.tree.children(layerDir);
  const lower = tx.tree.get(destDir);
  if (lower?.kind === 'dir') {
    if (children.some((c) => c.name === OPAQUE_WHITEOUT)) {
      for (const old of tx.tree.children(destDir)) {
        if (CATALOG_MARKERS.has(old.name)) continue;
        tx.tree.remove(`${destDir}/${old.name}`);
        removed++;
      }
    }
    for (const c of children) {
      if (!isWhiteout(c.name) || c.name === OPAQUE_WHITEOUT) continue;
      const hidden = c.name.slice(WHITEOUT_PREFIX.length);
      if (hidden.length === 0 || CATALOG_MARKERS.has(hidden)) continue;
      if (tx.tree.remove(`${destDir}/${hidden}`)) removed++;
    }
  }
  for (const c of children) {
    if (c.kind === 'dir') removed += applyDeletions(tx, `${layerDir}/${c.name}`, `${destDir}/${c.name}`);
  }
  return removed;
}

/**
 * Pass 2: the layer's own entries replace or join the lower tree's. `destIsNew`: `destDir` was
 * just created by this pass (nothing below it), so its entries are inserted without lookups.
 */
function applyAdditions(
  tx: Transaction,
  layerDir: string,
  destDir: string,
  rel: string,
  implicitDirs: ReadonlySet<string>,
  destIsNew: boolean,
): number {
  let rows = 0;
  // One query for the lower entries of the directory instead of one per layer entry.
  const lower = destIsNew ? undefined : new Map(tx.tree.children(destDir).map((d) => [d.name, d]));
  for (const c of tx.tree.children(layerDir)) {
    if (isWhiteout(c.name) || CATALOG_MARKERS.has(c.name)) continue;
    const target = `${destDir}/${c.name}`;
    const relPath = rel === '' ? c.name : `${rel}/${c.name}`;
    const existing = lower?.get(c.name);
    if (c.kind === 'dir' && implicitDirs.has(relPath) && existing !== undefined) {
      if (existing.kind !== 'dir')
        throw new ContainerError(
          'LAYER_UNSAFE',
          `layer writes below /${relPath}, which a lower layer made a ${existing.kind}`,
        );
      rows += applyAdditions(tx, `${layerDir}/${c.name}`, target, relPath, implicitDirs, false);
      continue;
    }
    if (existing === undefined) tx.tree.putNew(target, movable(c));
    else tx.tree.put(target, movable(c));
    rows++;
    if (c.kind === 'dir')
      rows += applyAdditions(
        tx,
        `${layerDir}/${c.name}`,
        target,
        relPath,
        implicitDirs,
        existing?.kind !== 'dir',
      );
  }
  return rows;
}

/**
 * Applies a layer's tree (`layerfs`) onto `dest` as an OCI runtime would unpack it. The deletion
 * pass is skipped for a layer without whiteouts (`hasWhiteouts` from its record).
 */
export function applyLayer(
  tx: Transaction,
  layerfs: string,
  dest: string,
  implicitDirs: ReadonlySet<string>,
  hasWhiteouts = true,
): { removed: number; rows: number } {
  const removed = hasWhiteouts ? applyDeletions(tx, layerfs, dest) : 0;
  const rows = applyAdditions(tx, layerfs, dest, '', implicitDirs, false);
  return { removed, rows };
}
