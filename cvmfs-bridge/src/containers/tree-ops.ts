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

/** Copies every row beneath `from` to beneath `to` (which must exist), markers excepted. */
export function copyTree(tx: Transaction, from: string, to: string): number {
  let rows = 0;
  for (const child of tx.tree.children(from)) {
    if (CATALOG_MARKERS.has(child.name)) continue;
    const target = `${to}/${child.name}`;
    tx.tree.put(target, movable(child));
    rows++;
    if (child.kind === 'dir') rows += copyTree(tx, `${from}/${child.name}`, target);
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

/** Pass 2: the layer's own entries replace or join the lower tree's. */
function applyAdditions(
  tx: Transaction,
  layerDir: string,
  destDir: string,
  rel: string,
  implicitDirs: ReadonlySet<string>,
): number {
  let rows = 0;
  for (const c of tx.tree.children(layerDir)) {
    if (isWhiteout(c.name) || CATALOG_MARKERS.has(c.name)) continue;
    const target = `${destDir}/${c.name}`;
    const relPath = rel === '' ? c.name : `${rel}/${c.name}`;
    const existing = tx.tree.get(target);
    if (c.kind === 'dir') {
      if (implicitDirs.has(relPath) && existing !== undefined) {
        if (existing.kind !== 'dir')
          throw new ContainerError(
            'LAYER_UNSAFE',
            `layer writes below /${relPath}, which a lower layer made a ${existing.kind}`,
          );
      } else {
        tx.tree.put(target, movable(c));
        rows++;
      }
      rows += applyAdditions(tx, `${layerDir}/${c.name}`, target, relPath, implicitDirs);
    } else {
      tx.tree.put(target, movable(c));
      rows++;
    }
  }
  return rows;
}

/** Applies a layer's tree (`layerfs`) onto `dest` as an OCI runtime would unpack it. */
export function applyLayer(
  tx: Transaction,
  layerfs: string,
  dest: string,
  implicitDirs: ReadonlySet<string>,
): { removed: number; rows: number } {
  const removed = applyDeletions(tx, layerfs, dest);
  const rows = applyAdditions(tx, layerfs, dest, '', implicitDirs);
  return { removed, rows };
}
