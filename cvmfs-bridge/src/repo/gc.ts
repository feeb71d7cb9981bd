// Garbage collection: deletes objects no kept revision references. Kept: the current
// revision, every tagged revision, and every revision published within the grace period
// (clients may still be reading those); objects younger than the grace period are kept too.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CatalogDb } from '../catalog/catalog-db.js';
import { BridgeError } from '../errors.js';
import { ContentCache } from '../store/content-cache.js';
import { readTags } from './history.js';
import type { Repository } from './repository.js';
import { holdRepositorySync } from './turns.js';

export interface GcOptions {
  readonly graceSeconds: number;
  readonly dryRun?: boolean;
  readonly now?: Date;
}

export interface GcReport {
  readonly revisionsKept: number;
  readonly objectsKept: number;
  readonly objectsDeleted: number;
  readonly bytesFreed: number;
}

/** Collects every object a root catalog reaches (catalogs, files), skipping catalogs seen. */
function markReachable(
  repo: Repository,
  rootHash: string,
  reachable: Set<string>,
  workDir: string,
): string | undefined {
  let previous: string | undefined;
  const visit = (hash: string, isRoot: boolean) => {
    const key = `${hash}C`;
    if (reachable.has(key)) return;
    reachable.add(key);
    const file = join(workDir, `gc.${randomBytes(6).toString('hex')}.sqlite`);
    writeFileSync(file, repo.store.read(hash, 'C'));
    const db = CatalogDb.open(file, { readonly: true });
    try {
      if (isRoot) previous = db.property('previous_revision');
      const rows = db.fileHashes();
      for (const h of rows) reachable.add(h);
      for (const n of db.nested()) visit(n.hash, false);
    } finally {
      db.close();
      rmSync(file, { force: true });
    }
  };
  visit(rootHash, true);
  return previous;
}

function rootTimestamp(repo: Repository, hash: string, workDir: string): number {
  const file = join(workDir, `gc.${randomBytes(6).toString('hex')}.sqlite`);
  writeFileSync(file, repo.store.read(hash, 'C'));
  const db = CatalogDb.open(file, { readonly: true });
  try {
    return Number(db.property('last_modified') ?? 0);
  } finally {
    db.close();
    rmSync(file, { force: true });
  }
}

export function collectGarbage(repo: Repository, options: GcOptions): GcReport {
  const release = holdRepositorySync(repo.layout.lockFile, { waitSeconds: repo.settings.lockWaitSeconds });
  const workDir = join(repo.layout.workDir, `gc-${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  try {
    const manifest = repo.manifest();
    if (!manifest.garbageCollectable)
      throw new BridgeError('BAD_INPUT', 'repository is not garbage-collectable (manifest G=no)');
    const now = options.now ?? new Date();
    const cutoff = Math.floor(now.getTime() / 1000) - options.graceSeconds;
    const reachable = new Set<string>([`${manifest.certificateHash}X`]);
    if (manifest.historyHash) reachable.add(`${manifest.historyHash}H`);
    const roots = new Set<string>([manifest.rootCatalogHash]);
    for (const tag of readTags(repo.store, workDir, repo.fqrn, manifest.historyHash)) roots.add(tag.rootHash);
    // Walk back from the current revision: a revision replaced within the grace period may
    // still be in use by clients, so it is kept with everything it references.
    let previous = markReachable(repo, manifest.rootCatalogHash, reachable, workDir);
    let replacedAt = manifest.publishedAt;
    while (previous && replacedAt >= cutoff && repo.store.has(previous, 'C')) {
      roots.add(previous);
      replacedAt = rootTimestamp(repo, previous, workDir);
      previous = markReachable(repo, previous, reachable, workDir);
    }
    for (const root of roots) markReachable(repo, root, reachable, workDir);

    let objectsKept = 0;
    let objectsDeleted = 0;
    let bytesFreed = 0;
    const deleted: string[] = [];
    for (let i = 0; i < 256; i++) {
      const prefix = i.toString(16).padStart(2, '0');
      const dir = join(repo.store.dataDir, prefix);
      for (const name of readdirSync(dir)) {
        const m = /^([0-9a-f]{38})([CXHMP]?)$/.exec(name);
        if (!m) continue;
        const hash = prefix + (m[1] as string);
        const file = join(dir, name);
        const st = statSync(file);
        if (reachable.has(hash + (m[2] as string)) || st.mtimeMs / 1000 >= cutoff) {
          objectsKept++;
          continue;
        }
        if (!options.dryRun) unlinkSync(file);
        deleted.push(hash);
        objectsDeleted++;
        bytesFreed += st.size;
      }
    }
    if (!options.dryRun && deleted.length > 0) {
      const cache = new ContentCache(repo.layout.cacheDbFile);
      cache.forgetObjects(deleted);
      cache.close();
    }
    return { revisionsKept: roots.size, objectsKept, objectsDeleted, bytesFreed };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    release();
  }
}
