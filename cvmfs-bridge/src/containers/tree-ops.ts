// Catalog-level tree operations inside one transaction: nested-catalog directories, copying
// a subtree by its rows (content objects are shared, nothing is re-read or re-compressed) and
// applying a layer onto a tree with OCI whiteout semantics. Pure row work: no content I/O.
import { copyWorker } from '../catalog/copy-worker.js';
import type { Dirent } from '../catalog/dirent.js';
import { makeNested } from '../writer/catalog-structure.js';
import type { EntryMeta, Transaction } from '../writer/transaction.js';
import type { WorkingCatalog } from '../writer/working-catalog.js';
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

interface CopyJob {
  readonly from: string;
  readonly to: string;
}

const MARKERS_ONLY = { names: [...CATALOG_MARKERS] };
const MARKERS_AND_WHITEOUTS = { names: [...CATALOG_MARKERS], prefix: WHITEOUT_PREFIX };

interface CopyGroup {
  readonly source: WorkingCatalog;
  readonly dest: WorkingCatalog;
  readonly items: readonly CopyJob[];
}
type CopyResult = { rows: number; topDirs: number };

/**
 * Copies each `from` subtree below its `to` (an existing directory with nothing below it), in
 * SQL (CatalogDb.copySubtreesFrom, one attach per pair of catalogs), then follows the catalogs
 * nested in the source (an automatic split of a large tree): each is copied below the
 * transition point its parent's copy made. Yields each pair of catalogs to copy between and
 * takes the copy's results (the caller runs it, here or on another thread); returns per job the
 * rows copied and the directories right below `to`.
 */
function* copyRounds(
  tx: Transaction,
  jobs: readonly CopyJob[],
): Generator<CopyGroup, CopyResult[], CopyResult[]> {
  const results = jobs.map(() => ({ rows: 0, topDirs: 0 }));
  let work = jobs.map((job, index) => ({ ...job, index, top: true }));
  while (work.length > 0) {
    const groups = new Map<string, { source: WorkingCatalog; dest: WorkingCatalog; items: typeof work }>();
    for (const item of work) {
      const source = tx.tree.catalogFor(item.from);
      const dest = tx.tree.catalogFor(item.to);
      const key = `${source.mountpoint}\0${dest.mountpoint}`;
      const group = groups.get(key) ?? { source, dest, items: [] };
      group.items.push(item);
      groups.set(key, group);
    }
    const next: typeof work = [];
    for (const group of groups.values()) {
      const { source, dest, items } = group;
      const copied = yield group;
      dest.dirty = true;
      items.forEach((item, i) => {
        const result = results[item.index] as CopyResult;
        const one = copied[i] as CopyResult;
        result.rows += one.rows;
        if (item.top) result.topDirs = one.topDirs;
        for (const mountpoint of source.nestedPaths) {
          if (!mountpoint.startsWith(`${item.from}/`)) continue;
          const target = `${item.to}${mountpoint.slice(item.from.length)}`;
          if (dest.db.get(target)?.kind === 'dir')
            next.push({ from: mountpoint, to: target, index: item.index, top: false });
        }
      });
    }
    work = next;
  }
  return results;
}

function copySubtrees(
  tx: Transaction,
  jobs: readonly CopyJob[],
  exclude: { readonly names: readonly string[]; readonly prefix?: string },
): CopyResult[] {
  const rounds = copyRounds(tx, jobs);
  let step = rounds.next();
  while (!step.done) {
    const { dest, source, items } = step.value;
    step = rounds.next(dest.db.copySubtreesFrom(source.db, items, exclude));
  }
  return step.value;
}

/** copySubtrees with the SQL on the copy thread (see CatalogDb.copySubtreesFromAsync). */
async function copySubtreesAsync(
  tx: Transaction,
  jobs: readonly CopyJob[],
  exclude: { readonly names: readonly string[]; readonly prefix?: string },
): Promise<CopyResult[]> {
  const rounds = copyRounds(tx, jobs);
  let step = rounds.next();
  while (!step.done) {
    const { dest, source, items } = step.value;
    step = rounds.next(await dest.db.copySubtreesFromAsync(source.db, items, exclude, copyWorker()));
  }
  return step.value;
}

/** Sets a plain (not nested-root) directory's link count: 2 + its subdirectories. */
function setSubdirCount(tx: Transaction, path: string, subdirs: number): void {
  const catalog = tx.tree.catalogFor(path);
  const dir = catalog.db.get(path) as Dirent;
  catalog.db.put(path, { ...dir, linkcount: 2 + subdirs });
  catalog.dirty = true;
}

function checkFresh(tx: Transaction, to: string): WorkingCatalog {
  const catalog = tx.tree.catalogFor(to);
  if (catalog.mountpoint !== to || tx.tree.children(to).some((c) => !CATALOG_MARKERS.has(c.name)))
    throw new ContainerError('LAYER_UNSAFE', `internal: ${to} is not a fresh nested catalog`);
  return catalog;
}

/** The copy's root row: link count from its subdirectories, in the catalog and its parent. */
function finishFreshCopy(catalog: WorkingCatalog, to: string, topDirs: number): void {
  const root = catalog.db.get(to) as Dirent;
  const updated = { ...root, linkcount: 2 + topDirs };
  catalog.db.put(to, { ...updated, nestedRoot: true, nestedMountpoint: false });
  catalog.dirty = true;
  const parent = catalog.parent;
  if (parent) {
    parent.db.put(to, { ...updated, nestedRoot: false, nestedMountpoint: true });
    parent.dirty = true;
  }
}

/**
 * Copies the subtree `from` into the fresh nested-catalog root `to` (from addNestedDirectory,
 * still empty), in SQL: no per-row lookups or replacement checks, and the source's directory
 * link counts stay exact because the whole structure is copied. Catalog markers are never
 * copied; `skipWhiteouts` drops `.wh.*` names too (when the first layer seeds a chain).
 * Returns the number of rows copied.
 */
export function copyIntoFreshCatalog(
  tx: Transaction,
  from: string,
  to: string,
  skipWhiteouts = false,
): number {
  const catalog = checkFresh(tx, to);
  const [copied] = copySubtrees(tx, [{ from, to }], skipWhiteouts ? MARKERS_AND_WHITEOUTS : MARKERS_ONLY);
  const { rows, topDirs } = copied as CopyResult;
  finishFreshCopy(catalog, to, topDirs);
  return rows;
}

/**
 * copyIntoFreshCatalog with the SQL on the copy thread: the caller's thread is free meanwhile
 * (a new tag's base copied while its top layer streams in) but must not touch `to`'s catalog
 * until this resolves (a use fails). Waits for pending writes below `to` first.
 */
export async function copyIntoFreshCatalogAsync(tx: Transaction, from: string, to: string): Promise<number> {
  await tx.settled(to);
  const catalog = checkFresh(tx, to);
  const [copied] = await copySubtreesAsync(tx, [{ from, to }], MARKERS_ONLY);
  const { rows, topDirs } = copied as CopyResult;
  finishFreshCopy(catalog, to, topDirs);
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
 * Pass 2: the layer's own entries replace or join the lower tree's. A layer directory that is
 * new in the tree (or replaces a non-directory) is added here and its contents queued in
 * `fresh`: they are copied whole afterwards (no lower entries to merge with, and whiteouts
 * below it hide nothing).
 */
function applyAdditions(
  tx: Transaction,
  layerDir: string,
  destDir: string,
  rel: string,
  implicitDirs: ReadonlySet<string>,
  fresh: CopyJob[],
): number {
  let rows = 0;
  // One query for the lower entries of the directory instead of one per layer entry.
  const lower = new Map(tx.tree.children(destDir).map((d) => [d.name, d]));
  for (const c of tx.tree.children(layerDir)) {
    if (isWhiteout(c.name) || CATALOG_MARKERS.has(c.name)) continue;
    const target = `${destDir}/${c.name}`;
    const relPath = rel === '' ? c.name : `${rel}/${c.name}`;
    const existing = lower.get(c.name);
    if (c.kind === 'dir' && existing?.kind === 'dir') {
      if (implicitDirs.has(relPath)) {
        // Only implied by the layer's members: the lower directory keeps its metadata.
      } else {
        tx.tree.put(target, movable(c));
        rows++;
      }
      rows += applyAdditions(tx, `${layerDir}/${c.name}`, target, relPath, implicitDirs, fresh);
      continue;
    }
    if (c.kind === 'dir' && implicitDirs.has(relPath) && existing !== undefined)
      throw new ContainerError(
        'LAYER_UNSAFE',
        `layer writes below /${relPath}, which a lower layer made a ${existing.kind}`,
      );
    if (existing === undefined) tx.tree.putNew(target, movable(c));
    else tx.tree.put(target, movable(c));
    rows++;
    if (c.kind === 'dir') fresh.push({ from: `${layerDir}/${c.name}`, to: target });
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
  const fresh: CopyJob[] = [];
  let rows = applyAdditions(tx, layerfs, dest, '', implicitDirs, fresh);
  const copied = copySubtrees(tx, fresh, MARKERS_AND_WHITEOUTS);
  fresh.forEach((job, i) => {
    const one = copied[i] as CopyResult;
    rows += one.rows;
    setSubdirCount(tx, job.to, one.topDirs);
  });
  return { removed, rows };
}
