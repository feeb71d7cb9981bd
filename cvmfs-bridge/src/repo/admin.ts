// Repository maintenance that does not change content: named tags and whitelist re-signing.
// Both hold the repository lock and re-sign the manifest atomically like publish does.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { CatalogDb } from '../catalog/catalog-db.js';
import { BridgeError } from '../errors.js';
import { parseWhitelist } from '../format/whitelist.js';
import { readTags, type Tag, updateHistory } from './history.js';
import type { Repository } from './repository.js';
import { holdRepositorySync } from './turns.js';

export function listTags(repo: Repository): Tag[] {
  return readTags(repo.store, repo.layout.workDir, repo.fqrn, repo.manifest().historyHash);
}

function catalogRevision(repo: Repository, rootHash: string): { revision: number; sizeBytes: number } {
  const bytes = repo.store.read(rootHash, 'C');
  mkdirSync(repo.layout.workDir, { recursive: true });
  const file = `${repo.layout.workDir}/tag-root.sqlite`;
  writeFileSync(file, bytes);
  const db = CatalogDb.open(file, { readonly: true });
  try {
    return { revision: Number(db.property('revision') ?? 0), sizeBytes: bytes.length };
  } finally {
    db.close();
    rmSync(file, { force: true });
  }
}

export function changeTags(
  repo: Repository,
  change: { add?: { name: string; description?: string; rootHash?: string }; remove?: string },
  now = new Date(),
): Tag[] {
  const release = holdRepositorySync(repo.layout.lockFile, { waitSeconds: repo.settings.lockWaitSeconds });
  try {
    const manifest = repo.manifest();
    const add: Tag[] = [];
    if (change.add) {
      const rootHash = change.add.rootHash ?? manifest.rootCatalogHash;
      if (!repo.store.has(rootHash, 'C'))
        throw new BridgeError('NOT_FOUND', `no root catalog ${rootHash} in this repository`);
      const { revision, sizeBytes } = catalogRevision(repo, rootHash);
      add.push({
        name: change.add.name,
        rootHash,
        revision,
        timestamp: Math.floor(now.getTime() / 1000),
        description: change.add.description ?? '',
        sizeBytes,
      });
    }
    const historyHash = updateHistory(repo.store, repo.layout.workDir, repo.fqrn, manifest.historyHash, {
      add,
      ...(change.remove ? { remove: [change.remove] } : {}),
    });
    repo.writeManifest({
      ...manifest,
      historyHash,
      publishedAt: Math.max(manifest.publishedAt, Math.floor(now.getTime() / 1000)),
    });
    return readTags(repo.store, repo.layout.workDir, repo.fqrn, historyHash);
  } finally {
    release();
  }
}

export interface ResignResult {
  readonly resigned: boolean;
  readonly expiresAt: Date;
}

/** Re-signs the whitelist; with `onlyWithinDays`, only when it expires within that many days. */
export function resignWhitelist(
  repo: Repository,
  options: { days?: number; onlyWithinDays?: number; now?: Date } = {},
): ResignResult {
  const now = options.now ?? new Date();
  if (options.onlyWithinDays !== undefined) {
    const current = parseWhitelist(readFileSync(repo.layout.whitelistFile)).whitelist;
    if (current.expiresAt.getTime() - now.getTime() > options.onlyWithinDays * 86_400_000) {
      return { resigned: false, expiresAt: current.expiresAt };
    }
  }
  const release = holdRepositorySync(repo.layout.lockFile, { waitSeconds: repo.settings.lockWaitSeconds });
  try {
    return { resigned: true, expiresAt: repo.writeWhitelist(now, options.days) };
  } finally {
    release();
  }
}
