// The workspace: one directory per catalog being edited. catalog.yaml holds the exact
// bytes that get signed; every change raises the version and archives the previous
// version (with its signatures) under history/<version>/ so `diff` and audits can see it.

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Catalog, parseCatalog, serializeDocument, TrustError } from '@trustswarm/policy';
import { writeFileAtomicSync } from './atomic.js';
import { CliError, fsError } from './errors.js';
import { acquireFileLock } from './file-lock.js';

export interface ArtifactSource {
  path: string;
  sizeBytes: number;
  mtimeMs: number;
}

interface SourcesFile {
  artifacts: Record<string, ArtifactSource>;
}

/** RFC 3339 UTC without milliseconds, as the catalog format writes times. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const LOCK_WAIT_MS = 15_000;

export class Workspace {
  private lockDepth = 0;

  constructor(readonly dir: string) {}

  private get lockPath(): string {
    return join(this.dir, '.tsw-endorse.lock');
  }

  /**
   * Runs `fn` holding the workspace lock, so two tsw-endorse processes never interleave
   * read-modify-write of catalog.yaml or sources.json. Re-entrant within one process; a lock
   * left by a process that no longer exists is taken over.
   */
  withLock<T>(fn: () => T): T {
    if (this.lockDepth > 0) {
      this.lockDepth++;
      try {
        return fn();
      } finally {
        this.lockDepth--;
      }
    }
    mkdirSync(this.dir, { recursive: true });
    const release = acquireFileLock(
      this.lockPath,
      LOCK_WAIT_MS,
      (pid) => `${this.dir} is busy: another tsw-endorse (pid ${pid}) holds ${this.lockPath}`,
    );
    this.lockDepth = 1;
    try {
      return fn();
    } finally {
      this.lockDepth = 0;
      release();
    }
  }

  get catalogPath(): string {
    return join(this.dir, 'catalog.yaml');
  }
  get signaturesDir(): string {
    return join(this.dir, 'signatures');
  }
  get torrentsDir(): string {
    return join(this.dir, 'torrents');
  }
  get artifactsDir(): string {
    return join(this.dir, 'artifacts');
  }
  get historyDir(): string {
    return join(this.dir, 'history');
  }
  private get sourcesPath(): string {
    return join(this.dir, 'sources.json');
  }

  torrentPath(infoHash: string): string {
    return join(this.torrentsDir, `${infoHash}.torrent`);
  }

  hasCatalog(): boolean {
    return existsSync(this.catalogPath);
  }

  readCatalogBytes(): Buffer {
    try {
      return readFileSync(this.catalogPath);
    } catch (err) {
      const e = fsError(err, this.catalogPath);
      if (e.code === 'NOT_FOUND')
        throw new CliError(
          'NOT_FOUND',
          `no catalog in ${this.dir}: run 'tsw-endorse catalog new NAME' first`,
        );
      throw e;
    }
  }

  readCatalog(): { catalog: Catalog; bytes: Buffer } {
    const bytes = this.readCatalogBytes();
    return { catalog: parseCatalogOrFail(bytes, this.catalogPath), bytes };
  }

  /** Writes the first version of a new catalog. */
  create(catalog: Catalog): Buffer {
    return this.withLock(() => this.createLocked(catalog));
  }

  private createLocked(catalog: Catalog): Buffer {
    if (this.hasCatalog()) throw new CliError('CATALOG_EXISTS', `${this.catalogPath} already exists`);
    mkdirSync(this.dir, { recursive: true });
    const bytes = serializeOrFail(catalog);
    writeFileAtomicSync(this.catalogPath, bytes);
    return bytes;
  }

  /**
   * Applies `change` to a copy of the catalog, raises the version, re-issues it, and
   * replaces catalog.yaml; the old version and its signatures move to history/.
   */
  update(change: (catalog: Catalog) => void, now = new Date()): { catalog: Catalog; bytes: Buffer } {
    return this.withLock(() => this.updateLocked(change, now));
  }

  private updateLocked(change: (catalog: Catalog) => void, now: Date): { catalog: Catalog; bytes: Buffer } {
    const { catalog: current, bytes: oldBytes } = this.readCatalog();
    const next: Catalog = structuredClone(current);
    change(next);
    next.version = current.version + 1;
    next.issued = isoSeconds(now);
    if (Date.parse(next.expires) <= now.getTime())
      throw new CliError(
        'CATALOG_INVALID',
        `catalog expires at ${next.expires}, which is past: run 'tsw-endorse catalog set-expiry' first`,
      );
    const bytes = serializeOrFail(next);
    this.archive(current.version, oldBytes);
    rmSync(this.signaturesDir, { recursive: true, force: true });
    writeFileAtomicSync(this.catalogPath, bytes);
    return { catalog: next, bytes };
  }

  /**
   * Makes fetched bytes the current catalog with their signatures (for `pull`): same
   * catalog id only, never an older version; the replaced version goes to history/.
   */
  adopt(bytes: Buffer, signatures: Array<{ name: string; bytes: Buffer }>): Catalog {
    return this.withLock(() => {
      const incoming = parseCatalogOrFail(bytes, 'fetched catalog.yaml');
      if (this.hasCatalog()) {
        const { catalog: current, bytes: currentBytes } = this.readCatalog();
        if (current.id !== incoming.id)
          throw new CliError('CATALOG_EXISTS', `${this.catalogPath} holds another catalog (${current.id})`);
        if (current.version > incoming.version)
          throw new CliError(
            'CATALOG_INVALID',
            `the workspace has version ${current.version}, newer than ${incoming.version}`,
          );
        if (!currentBytes.equals(bytes)) this.archive(current.version, currentBytes);
      }
      mkdirSync(this.dir, { recursive: true });
      rmSync(this.signaturesDir, { recursive: true, force: true });
      mkdirSync(this.signaturesDir, { recursive: true });
      for (const s of signatures) writeFileAtomicSync(join(this.signaturesDir, s.name), s.bytes);
      writeFileAtomicSync(this.catalogPath, bytes);
      return incoming;
    });
  }

  private archive(version: number, bytes: Buffer): void {
    const dir = join(this.historyDir, String(version));
    mkdirSync(dir, { recursive: true });
    writeFileAtomicSync(join(dir, 'catalog.yaml'), bytes);
    if (existsSync(this.signaturesDir))
      cpSync(this.signaturesDir, join(dir, 'signatures'), { recursive: true });
  }

  /** Signature files of the current catalog, by file name. */
  signatureFiles(dir = this.signaturesDir): Array<{ name: string; path: string; bytes: Buffer }> {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((n) => n.endsWith('.p7s'))
      .sort()
      .map((name) => {
        const path = join(dir, name);
        try {
          return { name, path, bytes: readFileSync(path) };
        } catch (err) {
          throw fsError(err, path);
        }
      });
  }

  /** The catalog of an archived version, or of the current one. */
  versionPath(version: number): string {
    const current = this.hasCatalog() ? this.readCatalog().catalog.version : undefined;
    if (current === version) return this.catalogPath;
    const path = join(this.historyDir, String(version), 'catalog.yaml');
    if (!existsSync(path)) throw new CliError('NOT_FOUND', `no version ${version} in ${this.dir}`);
    return path;
  }

  readSources(): SourcesFile {
    if (!existsSync(this.sourcesPath)) return { artifacts: {} };
    try {
      return JSON.parse(readFileSync(this.sourcesPath, 'utf8')) as SourcesFile;
    } catch (err) {
      throw new CliError('WORKSPACE_INVALID', `${this.sourcesPath}: ${fsError(err, 'read').message}`);
    }
  }

  /** Remembers where an artifact's bytes are, so `publish` can upload them later. */
  recordSource(sha256: string, source: ArtifactSource): void {
    this.withLock(() => {
      const sources = this.readSources();
      sources.artifacts[sha256] = source;
      writeFileAtomicSync(this.sourcesPath, `${JSON.stringify(sources, null, 2)}\n`);
    });
  }
}

export function parseCatalogOrFail(bytes: Uint8Array, documentName: string): Catalog {
  try {
    return parseCatalog(bytes, { documentName });
  } catch (err) {
    if (err instanceof TrustError) throw new CliError('CATALOG_INVALID', err.message);
    throw err;
  }
}

function serializeOrFail(catalog: Catalog): Buffer {
  try {
    return serializeDocument(catalog);
  } catch (err) {
    if (err instanceof TrustError) throw new CliError('CATALOG_INVALID', err.message);
    throw err;
  }
}
