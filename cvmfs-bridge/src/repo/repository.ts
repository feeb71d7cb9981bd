// A repository this bridge owns: creation (keys, certificate, whitelist, empty root catalog,
// first manifest) and access to its keys, current manifest and object store.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CatalogDb } from '../catalog/catalog-db.js';
import { directoryDirent } from '../catalog/dirent.js';
import { COUNTER_NAMES } from '../catalog/schema.js';
import { BridgeError } from '../errors.js';
import { type Manifest, parseManifest, signManifest } from '../format/manifest.js';
import { signWhitelist } from '../format/whitelist.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import { flushFileSystem } from '../store/flush.js';
import { ObjectStore } from '../store/object-store.js';
import { updateHistory } from './history.js';
import { certificateFingerprint, generateRepositoryKeys, type RepositoryKeys } from './keys.js';
import { type RepoLayout, repoLayout } from './layout.js';

export interface RepoSettings {
  readonly storageDir: string;
  readonly stateDir: string;
  readonly compressionLevel: number;
  readonly workers: number;
  readonly maxCatalogEntries: number;
  readonly ttlSeconds: number;
  readonly whitelistDays: number;
  /** How long a writer waits for another one's lock (repo/lock.ts); 0 refuses at once. */
  readonly lockWaitSeconds: number;
}

export const DEFAULT_REPO_SETTINGS: Omit<RepoSettings, 'storageDir' | 'stateDir'> = {
  compressionLevel: 1,
  workers: 2,
  maxCatalogEntries: 200_000,
  ttlSeconds: 240,
  whitelistDays: 30,
  lockWaitSeconds: 60,
};

export class Repository {
  readonly layout: RepoLayout;
  readonly settings: RepoSettings;
  readonly store: ObjectStore;

  private constructor(layout: RepoLayout, settings: RepoSettings) {
    this.layout = layout;
    this.settings = settings;
    this.store = new ObjectStore(layout.publicDir);
  }

  static open(fqrn: string, settings: RepoSettings): Repository {
    const layout = repoLayout(settings.storageDir, settings.stateDir, fqrn);
    if (!existsSync(layout.manifestFile) || !existsSync(layout.repoKeyFile)) {
      throw new BridgeError('NOT_FOUND', `repository ${fqrn} does not exist under ${settings.storageDir}`);
    }
    return new Repository(layout, settings);
  }

  /** Creates keys, whitelist, an empty root catalog and revision 1 of the manifest. */
  static create(
    fqrn: string,
    settings: RepoSettings,
    now = new Date(),
    existingKeys?: RepositoryKeys,
  ): Repository {
    const layout = repoLayout(settings.storageDir, settings.stateDir, fqrn);
    if (existsSync(layout.manifestFile) || existsSync(layout.masterKeyFile)) {
      throw new BridgeError('EXISTS', `repository ${fqrn} already exists`);
    }
    const repo = new Repository(layout, settings);
    mkdirSync(layout.stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(layout.workDir, { recursive: true, mode: 0o700 });
    repo.store.init();

    const keys = existingKeys ?? generateRepositoryKeys(fqrn);
    writeFileAtomic(layout.masterKeyFile, keys.masterPrivateKeyPem, 0o600);
    writeFileAtomic(layout.repoKeyFile, keys.repoPrivateKeyPem, 0o600);
    writeFileAtomic(layout.masterPublicKeyFile, keys.masterPublicKeyPem, 0o644);
    writeFileAtomic(layout.certificateFile, keys.certificatePem, 0o644);
    const certificateHash = repo.store.putCompressed(Buffer.from(keys.certificatePem), 'X');
    repo.writeWhitelist(now);

    const publishedAt = Math.floor(now.getTime() / 1000);
    const file = join(layout.workDir, 'root-catalog.sqlite');
    rmSync(file, { force: true });
    const root = CatalogDb.create(file, '', directoryDirent('', 0o755, publishedAt));
    const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, n === 'dir' ? 1n : 0n]));
    root.setCounters('self', counters as never);
    root.setProperty('revision', '1');
    root.setProperty('last_modified', String(publishedAt));
    root.close();
    const rootBytes = readFileSync(file);
    const rootCatalogHash = repo.store.putCompressed(rootBytes, 'C');
    rmSync(file, { force: true });
    const historyHash = updateHistory(repo.store, layout.workDir, fqrn, undefined, {});

    writeFileSync(layout.masterReplicaFile, '');
    repo.writeManifest({
      rootCatalogHash,
      rootCatalogSizeBytes: rootBytes.length,
      ttlSeconds: settings.ttlSeconds,
      revision: 1,
      garbageCollectable: true,
      name: fqrn,
      certificateHash,
      historyHash,
      publishedAt,
    });
    return repo;
  }

  get fqrn(): string {
    return this.layout.fqrn;
  }

  repoPrivateKey(): string {
    return readFileSync(this.layout.repoKeyFile, 'utf8');
  }

  masterPublicKey(): string {
    return readFileSync(this.layout.masterPublicKeyFile, 'utf8');
  }

  certificatePem(): string {
    return readFileSync(this.layout.certificateFile, 'utf8');
  }

  /** The manifest as currently published (parsed, not re-verified: this is our own file). */
  manifest(): Manifest {
    return parseManifest(readFileSync(this.layout.manifestFile)).manifest;
  }

  /**
   * Signs and atomically replaces .cvmfspublished, after flushing the objects and catalogs it
   * names to disk (a crash or a power cut leaves the old revision or the new one, whole).
   * `dataFlushed`: the caller has just flushed them and written nothing since (publish flushes
   * off the event loop). `beforeRename` lets tests crash in between.
   */
  writeManifest(m: Manifest, options: { dataFlushed?: boolean; beforeRename?: () => void } = {}): void {
    const bytes = signManifest(m, this.repoPrivateKey());
    if (!options.dataFlushed) flushFileSystem(this.store.dataDir);
    if (!options.beforeRename) {
      writeFileAtomic(this.layout.manifestFile, bytes);
      return;
    }
    const staged = join(this.store.txnDir, 'manifest.staged');
    writeFileSync(staged, bytes);
    options.beforeRename();
    writeFileAtomic(this.layout.manifestFile, bytes);
    rmSync(staged, { force: true });
  }

  /** Re-signs the whitelist with the master key, valid `whitelistDays` from `now`. */
  writeWhitelist(now = new Date(), days = this.settings.whitelistDays): Date {
    const expiresAt = new Date(now.getTime() + days * 86_400_000);
    const masterKey = readFileSync(this.layout.masterKeyFile, 'utf8');
    const bytes = signWhitelist(
      {
        createdAt: now,
        expiresAt,
        name: this.fqrn,
        fingerprints: [certificateFingerprint(this.certificatePem())],
      },
      masterKey,
    );
    writeFileAtomic(this.layout.whitelistFile, bytes);
    return expiresAt;
  }
}
