// Catalog-level tree operations inside one transaction: nested-catalog directories, copying
// a subtree by its rows (content objects are shared, nothing is re-read or re-compressed) and
// applying a layer onto a tree with OCI whiteout semantics. Pure row work: no content I/O.
import { type Dirent, FLAG } from '../catalog/dirent.js';
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

const ROWS_PER_SLICE = 512;
const DIR_FLAG = BigInt(FLAG.dir);
const NESTING_FLAGS = BigInt(FLAG.nestedRoot | FLAG.nestedMountpoint);

/**
 * Fast path for a fresh nested-catalog root `to` (from addNestedDirectory, still empty): rows
 * are inserted straight into its catalog — one insert per entry, no per-row replacement
 * checks — keeping the source's directory link counts, which stay exact because the whole
 * structure is copied. `skip` drops names (whiteouts when the first layer seeds a chain).
 * A generator that pauses every ROWS_PER_SLICE rows, so the copy can share the event loop.
 */
function* copyRows(
  tx: Transaction,
  from: string,
  to: string,
  skip: (name: string) => boolean,
): Generator<void, number> {
  const catalog = tx.tree.catalogFor(to);
  if (catalog.mountpoint !== to || tx.tree.children(to).some((c) => !CATALOG_MARKERS.has(c.name)))
    throw new ContainerError('LAYER_UNSAFE', `internal: ${to} is not a fresh nested catalog`);
  let rows = 0;
  let topDirs = 0;
  // Stored rows are copied as they are (no Dirent round trip), made movable: no nesting flags,
  // no hard-link group (groups are per catalog); directories keep their link counts.
  function* walk(src: string, dst: string, top: boolean): Generator<void> {
    for (const child of tx.tree.catalogFor(src).db.childRows(src)) {
      if (CATALOG_MARKERS.has(child.name) || skip(child.name)) continue;
      const target = `${dst}/${child.name}`;
      const isDir = (child.flags & DIR_FLAG) !== 0n;
      catalog.db.putRow(target, {
        ...child,
        flags: child.flags & ~NESTING_FLAGS,
        hardlinks: isDir ? child.hardlinks & 0xffffffffn : 1n,
      });
      if (++rows % ROWS_PER_SLICE === 0) yield;
      if (isDir) {
        if (top) topDirs++;
        yield* walk(`${src}/${child.name}`, target, false);
      }
    }
  }
  yield* walk(from, to, true);
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

/** Copies the rows of `from` into the fresh nested catalog `to` at once (see copyRows). */
export function copyIntoFreshCatalog(
  tx: Transaction,
  from: string,
  to: string,
  skip: (name: string) => boolean = () => false,
): number {
  const copy = copyRows(tx, from, to, skip);
  for (;;) {
    const step = copy.next();
    if (step.done) return step.value;
  }
}

/**
 * The same copy in slices that yield to the event loop, so it runs while layers stream in and
 * the workers compress (the main thread is otherwise idle then). Nothing else may write below
 * `to` meanwhile.
 */
export async function copyIntoFreshCatalogInSlices(
  tx: Transaction,
  from: string,
  to: string,
): Promise<number> {
  const copy = copyRows(tx, from, to, () => false);
  for (;;) {
    const step = copy.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
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
