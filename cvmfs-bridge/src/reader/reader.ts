// Read side of a repository, as a client sees it: after establishTrust, catalogs and file
// objects are fetched on demand and every object is checked against its hash before use.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflate } from 'node:zlib';
import { CatalogDb } from '../catalog/catalog-db.js';
import type { Dirent } from '../catalog/dirent.js';
import { BridgeError } from '../errors.js';
import { objectPath } from '../format/hash.js';
import { normalizeRepoPath } from '../format/repo-path.js';
import type { Fetcher } from './fetcher.js';
import {
  establishTrust,
  fetchVerified,
  inflateOrFail,
  type TrustedRevision,
  type TrustOptions,
} from './trust-chain.js';

const MAX_CATALOG_BYTES = 1024 * 1024 * 1024;
const SMALL_OBJECT_BYTES = 1024 * 1024;

interface OpenCatalog {
  readonly mountpoint: string;
  readonly db: CatalogDb;
  readonly nested: Set<string>;
}

export class RepositoryReader {
  readonly trusted: TrustedRevision;
  private readonly fetcher: Fetcher;
  private readonly tempDir: string;
  private readonly catalogs = new Map<string, OpenCatalog>();

  private constructor(fetcher: Fetcher, trusted: TrustedRevision) {
    this.fetcher = fetcher;
    this.trusted = trusted;
    this.tempDir = mkdtempSync(join(tmpdir(), 'tsw-reader-'));
  }

  /** Runs the client's trust checks, then verifies and opens the root catalog. */
  static async open(
    fetcher: Fetcher,
    options: TrustOptions & { rootHash?: string },
  ): Promise<RepositoryReader> {
    const trusted = await establishTrust(fetcher, options);
    const reader = new RepositoryReader(fetcher, trusted);
    try {
      await reader.loadCatalog('', options.rootHash ?? trusted.manifest.rootCatalogHash);
    } catch (error) {
      reader.close();
      throw error;
    }
    return reader;
  }

  get revision(): number {
    return this.trusted.manifest.revision;
  }

  private async loadCatalog(mountpoint: string, hash: string): Promise<OpenCatalog> {
    const stored = await fetchVerified(this.fetcher, hash, 'C', MAX_CATALOG_BYTES);
    const file = join(this.tempDir, `${randomBytes(6).toString('hex')}.sqlite`);
    writeFileSync(file, inflateOrFail(stored, `catalog ${objectPath(hash, 'C')}`));
    const db = CatalogDb.open(file, { readonly: true });
    const prefix = db.property('root_prefix') ?? '';
    if (prefix !== mountpoint || !db.get(mountpoint)) {
      db.close();
      throw new BridgeError('CATALOG_INVALID', `catalog ${hash} is not the catalog of ${mountpoint || '/'}`);
    }
    const open = { mountpoint, db, nested: new Set(db.nested().map((n) => n.path)) };
    this.catalogs.set(mountpoint, open);
    return open;
  }

  private async child(parent: OpenCatalog, mountpoint: string): Promise<OpenCatalog> {
    const loaded = this.catalogs.get(mountpoint);
    if (loaded) return loaded;
    const ref = parent.db.nested().find((n) => n.path === mountpoint);
    if (!ref) throw new BridgeError('CATALOG_INVALID', `nested catalog ${mountpoint} is not referenced`);
    return this.loadCatalog(mountpoint, ref.hash);
  }

  private async catalogFor(path: string): Promise<OpenCatalog> {
    let current = this.catalogs.get('') as OpenCatalog;
    let prefix = '';
    for (const part of path === '' ? [] : path.slice(1).split('/')) {
      prefix = `${prefix}/${part}`;
      if (current.nested.has(prefix)) current = await this.child(current, prefix);
    }
    return current;
  }

  async lookup(rawPath: string): Promise<Dirent | undefined> {
    const path = normalizeRepoPath(rawPath);
    return (await this.catalogFor(path)).db.get(path);
  }

  async list(rawPath: string): Promise<Dirent[]> {
    const path = normalizeRepoPath(rawPath);
    const dir = await this.lookup(path);
    if (!dir) throw new BridgeError('NOT_FOUND', `${path || '/'} does not exist`);
    if (dir.kind !== 'dir') throw new BridgeError('BAD_PATH', `${path} is not a directory`);
    return (await this.catalogFor(path)).db.children(path);
  }

  /**
   * Streams a regular file's content into `out`. Nothing is written before the object's hash
   * has been checked; a hash or size mismatch rejects with HASH_MISMATCH.
   */
  async streamFile(rawPath: string, out: Writable): Promise<Dirent> {
    const path = normalizeRepoPath(rawPath);
    const d = await this.lookup(path);
    if (!d) throw new BridgeError('NOT_FOUND', `${path || '/'} does not exist`);
    if (d.kind !== 'file' || !d.hash) throw new BridgeError('BAD_PATH', `${path} is not a regular file`);
    await this.streamObject(d, out);
    return d;
  }

  async streamObject(d: Dirent, out: Writable): Promise<void> {
    const hash = d.hash as string;
    if (d.sizeBytes <= SMALL_OBJECT_BYTES) {
      // Small objects: one read, hash, inflate — much cheaper than a stream pipeline.
      const stored = await fetchVerified(this.fetcher, hash, '', SMALL_OBJECT_BYTES * 2 + 1024);
      const content = d.compressed === false ? stored : inflateOrFail(stored, `object of ${d.name}`);
      if (content.length !== d.sizeBytes)
        throw new BridgeError(
          'HASH_MISMATCH',
          `${d.name} has ${content.length} bytes, catalog says ${d.sizeBytes}`,
        );
      await new Promise<void>((resolve, reject) =>
        out.write(content, (error) => (error ? reject(error) : resolve())),
      );
      return;
    }
    // Large objects: stage the stored bytes to a temp file while hashing, and emit content only
    // after the hash matched, so a tampered object never reaches `out` (fail closed).
    const staged = join(this.tempDir, `object.${randomBytes(6).toString('hex')}`);
    try {
      const hasher = createHash('sha1');
      const hashStored = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hasher.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(await this.fetcher.open(objectPath(hash)), hashStored, createWriteStream(staged));
      if (hasher.digest('hex') !== hash) {
        throw new BridgeError(
          'HASH_MISMATCH',
          `object ${objectPath(hash)} of ${d.name} does not match its hash`,
        );
      }
      let produced = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          produced += chunk.length;
          cb(null, chunk);
        },
      });
      const source: Readable = createReadStream(staged, { highWaterMark: 1 << 20 });
      const stages = d.compressed === false ? [source, count, out] : [source, createInflate(), count, out];
      try {
        await pipeline(stages as [Readable, Transform, Writable]);
      } catch (error) {
        throw new BridgeError(
          'HASH_MISMATCH',
          `object of ${d.name} is unreadable: ${(error as Error).message}`,
        );
      }
      if (produced !== d.sizeBytes) {
        throw new BridgeError(
          'HASH_MISMATCH',
          `${d.name} has ${produced} bytes, catalog says ${d.sizeBytes}`,
        );
      }
    } finally {
      rmSync(staged, { force: true });
    }
  }

  async readFile(rawPath: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const { Writable } = await import('node:stream');
    await this.streamFile(
      rawPath,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      }),
    );
    return Buffer.concat(chunks);
  }

  /** All nested catalog references of the catalog owning `mountpoint` (for walks). */
  async nestedOf(mountpoint: string): Promise<string[]> {
    return [...(await this.catalogFor(mountpoint)).nested];
  }

  async catalogCounters(mountpoint: string) {
    const c = await this.catalogFor(mountpoint);
    return {
      self: c.db.counters('self'),
      subtree: c.db.counters('subtree'),
      entries: c.db.entryCount(),
      computed: c.db.countSelf(),
    };
  }

  close(): void {
    for (const c of this.catalogs.values()) c.db.close();
    this.catalogs.clear();
    rmSync(this.tempDir, { recursive: true, force: true });
  }
}
