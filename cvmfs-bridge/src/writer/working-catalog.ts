// A catalog opened for writing during one transaction: its SQLite working copy plus the
// bookkeeping publish needs (old hash and totals, parent links, subtree deltas, dirty flag).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CatalogDb, type NestedRef } from '../catalog/catalog-db.js';
import type { Dirent } from '../catalog/dirent.js';
import { addCounters, type Counters, zeroCounters } from '../catalog/schema.js';
import type { ObjectStore } from '../store/object-store.js';

export class WorkingCatalog {
  /** Bumped whenever any catalog's nested references change (path → catalog caches drop then). */
  static nestingGeneration = 0;
  readonly mountpoint: string;
  readonly db: CatalogDb;
  readonly oldHash: string | undefined;
  readonly oldSizeBytes: number;
  readonly oldSubtree: Counters;
  readonly oldTotal: Counters;
  readonly originalParent: WorkingCatalog | undefined;
  parent: WorkingCatalog | undefined;
  readonly nestedPaths: Set<string>;
  delta: Counters = zeroCounters();
  dirty = false;
  structureChanged = false;
  removed = false;
  private nextGroup: number;

  private constructor(
    mountpoint: string,
    db: CatalogDb,
    old: { hash?: string; sizeBytes: number },
    parent: WorkingCatalog | undefined,
  ) {
    this.mountpoint = mountpoint;
    this.db = db;
    this.oldHash = old.hash;
    this.oldSizeBytes = old.sizeBytes;
    this.oldSubtree = old.hash ? db.counters('subtree') : zeroCounters();
    this.oldTotal = old.hash ? addCounters(db.counters('self'), this.oldSubtree) : zeroCounters();
    this.originalParent = old.hash ? parent : undefined;
    this.parent = parent;
    this.nestedPaths = new Set(db.nested().map((n) => n.path));
    this.nextGroup = db.maxHardlinkGroup() + 1;
  }

  static load(store: ObjectStore, workDir: string, ref: NestedRef, parent?: WorkingCatalog): WorkingCatalog {
    const file = join(workDir, `catalog.${randomBytes(6).toString('hex')}.sqlite`);
    writeFileSync(file, store.read(ref.hash, 'C'));
    return new WorkingCatalog(ref.path, CatalogDb.open(file), ref, parent);
  }

  static create(workDir: string, mountpoint: string, root: Dirent, parent?: WorkingCatalog): WorkingCatalog {
    const file = join(workDir, `catalog.${randomBytes(6).toString('hex')}.sqlite`);
    const catalog = new WorkingCatalog(
      mountpoint,
      CatalogDb.create(file, mountpoint, root),
      { sizeBytes: 0 },
      parent,
    );
    catalog.dirty = true;
    return catalog;
  }

  get depth(): number {
    return this.mountpoint === '' ? 0 : this.mountpoint.split('/').length - 1;
  }

  allocateHardlinkGroup(): number {
    return this.nextGroup++;
  }

  addNested(ref: NestedRef): void {
    this.db.setNested(ref);
    this.nestedPaths.add(ref.path);
    WorkingCatalog.nestingGeneration++;
    this.dirty = true;
  }

  removeNested(path: string): void {
    this.db.deleteNested(path);
    this.nestedPaths.delete(path);
    WorkingCatalog.nestingGeneration++;
    this.dirty = true;
  }
}
