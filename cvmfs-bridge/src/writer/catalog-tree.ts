// The repository's directory tree as seen through all its catalogs during one transaction:
// path-level get/put/remove that find (and lazily load) the catalog owning each path and keep
// directory link counts, hard-link groups and nested-catalog transition points consistent.
import { mkdirSync } from 'node:fs';
import type { NestedRef } from '../catalog/catalog-db.js';
import type { Dirent } from '../catalog/dirent.js';
import { BridgeError } from '../errors.js';
import { baseName, parentPath } from '../format/hash.js';
import type { ObjectStore } from '../store/object-store.js';
import { WorkingCatalog } from './working-catalog.js';

export const CATALOG_MARKER = '.cvmfscatalog';
export const AUTO_CATALOG_MARKER = '.cvmfsautocatalog';

export class CatalogTree {
  readonly store: ObjectStore;
  readonly workDir: string;
  readonly root: WorkingCatalog;
  /** Every catalog loaded or created in this transaction, by mountpoint. */
  readonly loaded = new Map<string, WorkingCatalog>();
  /** Catalogs dropped in this transaction (their subtree was removed or merged). */
  readonly dropped: WorkingCatalog[] = [];
  /** Directories whose catalog markers were added or removed: reconciled before commit. */
  readonly markerChanges = new Set<string>();

  constructor(store: ObjectStore, workDir: string, rootRef: NestedRef) {
    this.store = store;
    this.workDir = workDir;
    mkdirSync(workDir, { recursive: true });
    this.root = WorkingCatalog.load(store, workDir, rootRef);
    this.loaded.set('', this.root);
  }

  /** catalogFor's answers while the nesting stays as it was (see WorkingCatalog.nestingGeneration). */
  private readonly owners = new Map<string, WorkingCatalog>();
  private ownersGeneration = -1;

  /** The catalog holding `path`'s row (for a mountpoint: the nested catalog, whose root it is). */
  catalogFor(path: string): WorkingCatalog {
    if (this.ownersGeneration !== WorkingCatalog.nestingGeneration || this.owners.size >= 65_536) {
      this.owners.clear();
      this.ownersGeneration = WorkingCatalog.nestingGeneration;
    }
    let owner = this.owners.get(path);
    if (!owner) {
      owner = this.findCatalog(path);
      this.owners.set(path, owner);
    }
    return owner;
  }

  private findCatalog(path: string): WorkingCatalog {
    let current = this.root;
    // Walk the ancestors of `path` from the top; each can be a mountpoint of the current catalog.
    let prefix = '';
    for (const part of path === '' ? [] : path.slice(1).split('/')) {
      prefix = `${prefix}/${part}`;
      if (current.nestedPaths.has(prefix)) current = this.child(current, prefix);
    }
    return current;
  }

  child(parent: WorkingCatalog, mountpoint: string): WorkingCatalog {
    const existing = this.loaded.get(mountpoint);
    if (existing) return existing;
    const ref = parent.db.nested().find((n) => n.path === mountpoint);
    if (!ref)
      throw new BridgeError(
        'CATALOG_INVALID',
        `nested catalog ${mountpoint} is not referenced by its parent`,
      );
    const catalog = WorkingCatalog.load(this.store, this.workDir, ref, parent);
    this.loaded.set(mountpoint, catalog);
    return catalog;
  }

  isMountpoint(path: string): boolean {
    return path !== '' && this.catalogFor(path).mountpoint === path;
  }

  get(path: string): Dirent | undefined {
    return this.catalogFor(path).db.get(path);
  }

  children(path: string): Dirent[] {
    return this.catalogFor(path).db.children(path);
  }

  /** Writes a directory's row; at a mountpoint both the nested root and the transition point. */
  private writeDirRow(path: string, d: Dirent): void {
    const catalog = this.catalogFor(path);
    if (path !== '' && catalog.mountpoint === path) {
      catalog.db.put(path, { ...d, nestedRoot: true, nestedMountpoint: false });
      catalog.dirty = true;
      const parent = catalog.parent as WorkingCatalog;
      parent.db.put(path, { ...d, nestedRoot: false, nestedMountpoint: true });
      parent.dirty = true;
      return;
    }
    catalog.db.put(path, { ...d, nestedRoot: false, nestedMountpoint: false });
    catalog.dirty = true;
  }

  private adjustSubdirCount(dirPath: string, by: number): void {
    const dir = this.get(dirPath);
    if (!dir) return;
    this.writeDirRow(dirPath, { ...dir, linkcount: dir.linkcount + by });
  }

  /** Adds or replaces one entry; the parent directory must exist. */
  put(path: string, d: Dirent): void {
    if (path === '') {
      if (d.kind !== 'dir') throw new BridgeError('BAD_PATH', 'the repository root must stay a directory');
      const old = this.get('') as Dirent;
      this.writeDirRow('', { ...d, name: '', linkcount: old.linkcount });
      return;
    }
    const dirPath = parentPath(path);
    const parentDir = this.get(dirPath);
    if (parentDir?.kind !== 'dir') {
      throw new BridgeError('NOT_FOUND', `parent directory of ${path} does not exist in the repository`);
    }
    const existing = this.get(path);
    if (existing && (existing.kind === 'dir') !== (d.kind === 'dir')) {
      this.remove(path);
      this.put(path, d);
      return;
    }
    const name = baseName(path);
    if (existing?.kind === 'dir') {
      this.writeDirRow(path, { ...d, name, linkcount: existing.linkcount });
      return;
    }
    if (existing && existing.hardlinkGroup !== 0 && existing.hardlinkGroup !== d.hardlinkGroup) {
      this.leaveHardlinkGroup(path, existing);
    }
    const catalog = this.catalogFor(dirPath);
    catalog.db.put(path, { ...d, name, ...(d.kind === 'dir' ? { linkcount: 2 } : {}) });
    catalog.dirty = true;
    if (!existing && d.kind === 'dir') this.adjustSubdirCount(dirPath, +1);
    if (name === CATALOG_MARKER || name === AUTO_CATALOG_MARKER) this.markerChanges.add(dirPath);
  }

  /**
   * Adds an entry the caller knows is new (no row at `path`, nothing below it) under an
   * existing directory that is not a mountpoint of `path` itself: one insert, no lookups of the
   * entry (a bulk writer of a fresh tree, e.g. a layer, knows this from its own bookkeeping).
   */
  putNew(path: string, d: Dirent): void {
    const dirPath = parentPath(path);
    const catalog = this.catalogFor(dirPath);
    const name = baseName(path);
    catalog.db.put(path, d.kind === 'dir' ? { ...d, name, linkcount: 2 } : { ...d, name });
    catalog.dirty = true;
    if (d.kind === 'dir') this.adjustSubdirCount(dirPath, +1);
    if (name === CATALOG_MARKER || name === AUTO_CATALOG_MARKER) this.markerChanges.add(dirPath);
  }

  /** Removes an entry and everything beneath it; false if it did not exist. */
  remove(path: string): boolean {
    if (path === '') throw new BridgeError('BAD_PATH', 'the repository root cannot be removed');
    const existing = this.get(path);
    if (!existing) return false;
    const dirPath = parentPath(path);
    if (existing.kind === 'dir') {
      if (this.isMountpoint(path)) this.dropCatalog(this.catalogFor(path));
      else for (const child of this.children(path)) this.remove(`${path}/${child.name}`);
    } else if (existing.hardlinkGroup !== 0) {
      this.leaveHardlinkGroup(path, existing);
    }
    const catalog = this.catalogFor(dirPath);
    catalog.db.delete(path);
    catalog.dirty = true;
    if (existing.kind === 'dir') this.adjustSubdirCount(dirPath, -1);
    if (existing.name === CATALOG_MARKER || existing.name === AUTO_CATALOG_MARKER)
      this.markerChanges.add(dirPath);
    return true;
  }

  /** Forgets a nested catalog and every catalog beneath it (their totals leave the parent). */
  private dropCatalog(catalog: WorkingCatalog): void {
    const parent = catalog.parent as WorkingCatalog;
    parent.removeNested(catalog.mountpoint);
    for (const other of this.loaded.values()) {
      if (other === catalog || other.mountpoint.startsWith(`${catalog.mountpoint}/`)) {
        other.removed = true;
        this.loaded.delete(other.mountpoint);
        this.dropped.push(other);
      }
    }
  }

  private groupMembers(path: string, group: number): { path: string; dirent: Dirent }[] {
    const dirPath = parentPath(path);
    return this.children(dirPath)
      .filter((c) => c.kind === 'file' && c.hardlinkGroup === group)
      .map((c) => ({ path: `${dirPath}/${c.name}`, dirent: c }));
  }

  private leaveHardlinkGroup(path: string, d: Dirent): void {
    const others = this.groupMembers(path, d.hardlinkGroup).filter((m) => m.path !== path);
    const catalog = this.catalogFor(parentPath(path));
    for (const m of others) {
      const alone = others.length === 1;
      catalog.db.put(m.path, {
        ...m.dirent,
        hardlinkGroup: alone ? 0 : m.dirent.hardlinkGroup,
        linkcount: alone ? 1 : others.length,
      });
    }
    catalog.dirty = true;
  }

  /**
   * Makes `path` a hard link of `target`. CVMFS keeps hard-link groups within one directory;
   * across directories the link becomes an independent file with the same content.
   */
  link(path: string, target: string): void {
    const t = this.get(target);
    if (t?.kind !== 'file')
      throw new BridgeError('NOT_FOUND', `hard link target ${target} is not a regular file`);
    if (path === target) return;
    if (parentPath(path) !== parentPath(target)) {
      this.put(path, { ...t, name: baseName(path), hardlinkGroup: 0, linkcount: 1 });
      return;
    }
    const catalog = this.catalogFor(parentPath(target));
    const group = t.hardlinkGroup !== 0 ? t.hardlinkGroup : catalog.allocateHardlinkGroup();
    const existing = this.get(path);
    if (existing?.kind === 'file' && existing.hardlinkGroup === group) return;
    if (existing) this.remove(path);
    const members = this.groupMembers(target, group);
    const count = (members.length === 0 ? 1 : members.length) + 1;
    if (members.length === 0) catalog.db.put(target, { ...t, hardlinkGroup: group, linkcount: count });
    for (const m of members) catalog.db.put(m.path, { ...m.dirent, linkcount: count });
    catalog.db.put(path, { ...t, name: baseName(path), hardlinkGroup: group, linkcount: count });
    catalog.dirty = true;
  }

  close(): void {
    for (const c of [...this.loaded.values(), ...this.dropped]) c.db.close();
  }
}
