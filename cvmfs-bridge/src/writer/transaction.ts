// The write side of one transaction: programmatic add/replace/remove of every entry type.
// File contents go to the worker pool concurrently; catalog rows are written when the
// object is stored. Operations on a path wait for earlier pending operations on it.

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Dirent, directoryDirent, S_IFDIR, S_IFLNK, S_IFREG } from '../catalog/dirent.js';
import { BridgeError } from '../errors.js';
import { baseName, parentPath } from '../format/hash.js';
import { normalizeRepoPath } from '../format/repo-path.js';
import type { ContentCache } from '../store/content-cache.js';
import { startFlush } from '../store/flush.js';
import type { PoolLease } from '../store/pool-reuse.js';
import type { StoredObject, StoreTask } from '../store/worker-pool.js';
import type { CatalogTree } from './catalog-tree.js';

export interface EntryMeta {
  /** Permission bits (the type bits are set from the entry kind). */
  readonly mode?: number;
  readonly mtime?: number;
  readonly mtimeNs?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly xattrs?: ReadonlyMap<string, Buffer>;
}

export type SpecialType = 'char' | 'block' | 'fifo' | 'socket';
const SPECIAL_TYPE_BITS: Record<SpecialType, number> = {
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
  socket: 0o140000,
};

/** Linux makedev() for the rdev a special file stores in its size column. */
export function makeDev(major: number, minor: number): number {
  return (
    (major & 0xfff) * 256 +
    (minor & 0xff) +
    (minor & ~0xff) * 4096 +
    Math.floor(major / 4096) * 2 ** 32 * 4096
  );
}

// The message to a worker transfers the content's ArrayBuffer. A Buffer often views a larger
// one (Node's shared 8 KiB pool, a stream chunk): exactly its bytes are copied then.
function copyBytes(content: Buffer): Uint8Array {
  return Uint8Array.prototype.slice.call(content);
}

/** A handed-over Buffer that owns its whole ArrayBuffer is moved, not copied. */
function ownBytes(content: Buffer): Uint8Array {
  if (content.byteOffset === 0 && content.byteLength === content.buffer.byteLength) return content;
  return copyBytes(content);
}

export interface TxStats {
  filesStored: number;
  bytesStored: number;
  objectsReused: number;
}

export class Transaction {
  readonly tree: CatalogTree;
  readonly stats: TxStats = { filesStored: 0, bytesStored: 0, objectsReused: 0 };
  private readonly pool: PoolLease;
  private readonly cache: ContentCache;
  private readonly stagingDir: string;
  private readonly pending = new Map<string, Promise<void>>();
  /** Number of pending paths beneath each directory, so subtree waits need no scan. */
  private readonly pendingBelow = new Map<string, number>();
  private failure: unknown;
  private readonly maxInFlight = 512;
  /** Bytes of in-memory contents queued or being stored at once (back-pressure for large files). */
  private readonly maxInFlightBytes = 256 * 1024 * 1024;

  /**
   * Write-back started while contents are still being stored: once `everyBytes` more have been
   * stored, a flush of `dir`'s filesystem (syncfs) starts in the background, one at a time, so
   * the disk writes the objects while the CPUs compress the next ones and the flush before the
   * manifest finds little left. Failures are left to that final flush.
   */
  private readonly writeBack: { readonly dir: string; readonly everyBytes: number } | undefined;
  private writeBackFrom = 0;
  private writeBackRunning = false;

  constructor(
    tree: CatalogTree,
    pool: PoolLease,
    cache: ContentCache,
    stagingDir: string,
    writeBack?: { readonly dir: string; readonly everyBytes: number },
  ) {
    this.tree = tree;
    this.pool = pool;
    this.cache = cache;
    this.stagingDir = stagingDir;
    this.writeBack = writeBack;
  }

  private startWriteBack(): void {
    const w = this.writeBack;
    if (!w || this.writeBackRunning || this.stats.bytesStored - this.writeBackFrom < w.everyBytes) return;
    this.writeBackRunning = true;
    this.writeBackFrom = this.stats.bytesStored;
    startFlush(w.dir)
      .catch(() => {})
      .finally(() => {
        this.writeBackRunning = false;
      });
  }

  /** Waits until every queued file is stored and its row written; rethrows the first failure. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending.values()]);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits until the pending writes at and below `path` are done; rethrows the first failure. */
  async settled(rawPath: string): Promise<void> {
    await this.settle(normalizeRepoPath(rawPath), true);
  }

  get(path: string): Dirent | undefined {
    return this.tree.get(normalizeRepoPath(path));
  }

  list(path: string): Dirent[] {
    return this.tree.children(normalizeRepoPath(path));
  }

  private async settle(path: string, subtree: boolean): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const waits: Promise<void>[] = [];
    const own = this.pending.get(path);
    if (own) waits.push(own);
    if (subtree && (this.pendingBelow.get(path) ?? 0) > 0) {
      for (const [p, promise] of this.pending)
        if (path === '' || p.startsWith(`${path}/`)) waits.push(promise);
    }
    if (waits.length > 0) await Promise.allSettled(waits);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Creates missing parent directories (mode 0755, owner root) like `mkdir -p`. */
  private ensureParents(path: string): void {
    const dir = parentPath(path);
    if (dir === '' || this.tree.get(dir)?.kind === 'dir') return;
    this.ensureParents(dir);
    this.tree.put(dir, directoryDirent(baseName(dir)));
  }

  private base(path: string, typeBits: number, meta: EntryMeta, defaultMode: number) {
    return {
      name: baseName(path),
      mode: typeBits | ((meta.mode ?? defaultMode) & 0o7777),
      mtime: meta.mtime ?? Math.floor(Date.now() / 1000),
      ...(meta.mtimeNs !== undefined ? { mtimeNs: meta.mtimeNs } : {}),
      uid: meta.uid ?? 0,
      gid: meta.gid ?? 0,
      ...(meta.xattrs && meta.xattrs.size > 0 ? { xattrs: meta.xattrs } : {}),
      linkcount: 1,
      hardlinkGroup: 0,
    };
  }

  async addDirectory(rawPath: string, meta: EntryMeta = {}): Promise<void> {
    const path = normalizeRepoPath(rawPath);
    await this.settle(path, false);
    this.ensureParents(path);
    this.tree.put(path, {
      ...this.base(path, S_IFDIR, meta, 0o755),
      kind: 'dir',
      sizeBytes: 4096,
      linkcount: 2,
    });
  }

  async addSymlink(rawPath: string, target: string, meta: EntryMeta = {}): Promise<void> {
    const path = normalizeRepoPath(rawPath);
    if (target.length === 0 || target.includes('\0'))
      throw new BridgeError('BAD_INPUT', `symlink ${path} has an empty or invalid target`);
    await this.settle(path, true);
    this.ensureParents(path);
    const d: Dirent = {
      ...this.base(path, S_IFLNK, meta, 0o777),
      kind: 'symlink',
      symlink: target,
      sizeBytes: Buffer.byteLength(target),
    };
    this.tree.put(path, d);
  }

  async addSpecial(rawPath: string, type: SpecialType, rdev = 0, meta: EntryMeta = {}): Promise<void> {
    const path = normalizeRepoPath(rawPath);
    await this.settle(path, true);
    this.ensureParents(path);
    this.tree.put(path, {
      ...this.base(path, SPECIAL_TYPE_BITS[type], meta, 0o644),
      kind: 'special',
      sizeBytes: rdev,
    });
  }

  async addHardLink(rawPath: string, rawTarget: string): Promise<void> {
    const path = normalizeRepoPath(rawPath);
    const target = normalizeRepoPath(rawTarget);
    await this.settle(target, false);
    await this.settle(path, true);
    this.ensureParents(path);
    this.tree.link(path, target);
  }

  async setXattrs(rawPath: string, xattrs: ReadonlyMap<string, Buffer>): Promise<void> {
    const path = normalizeRepoPath(rawPath);
    await this.settle(path, false);
    const d = this.tree.get(path);
    if (!d) throw new BridgeError('NOT_FOUND', `${path} does not exist`);
    const { xattrs: _old, ...rest } = d;
    this.tree.put(path, xattrs.size > 0 ? { ...rest, xattrs } : rest);
  }

  async remove(rawPath: string): Promise<boolean> {
    const path = normalizeRepoPath(rawPath);
    await this.settle(path, true);
    return this.tree.remove(path);
  }

  /** Adds or replaces a regular file. `content` is bytes, a stream, or `{ file }` on local disk. */
  async addFile(
    rawPath: string,
    content: Buffer | Readable | { file: string },
    meta: EntryMeta = {},
  ): Promise<void> {
    const path = normalizeRepoPath(rawPath);
    if (path === '') throw new BridgeError('BAD_PATH', 'a file cannot replace the repository root');
    await this.settle(path, true);
    this.ensureParents(path);
    await this.storeFile(path, content, meta, false, (d) => this.tree.put(path, d));
  }

  // The addNew* methods are for bulk writers of a fresh tree (a container layer) that know from
  // their own bookkeeping that `path` does not exist yet and that its parent directory does:
  // they skip the lookups the general methods make (pending work, parents, the old entry).

  /**
   * addFile for a new path under an existing directory (see above). A Buffer is handed over:
   * when it owns its whole ArrayBuffer, that is moved to a worker (the caller must not use it
   * afterwards), so large contents are not copied once more.
   */
  async addNewFile(rawPath: string, content: Buffer | Readable, meta: EntryMeta = {}): Promise<void> {
    const path = normalizeRepoPath(rawPath);
    if (this.failure !== undefined) throw this.failure;
    await this.storeFile(path, content, meta, true, (d) => this.tree.putNew(path, d));
  }

  /** addDirectory for a new path under an existing directory. */
  addNewDirectory(rawPath: string, meta: EntryMeta = {}): void {
    const path = normalizeRepoPath(rawPath);
    this.tree.putNew(path, { ...this.base(path, S_IFDIR, meta, 0o755), kind: 'dir', sizeBytes: 4096 });
  }

  /** addSymlink for a new path under an existing directory. */
  addNewSymlink(rawPath: string, target: string, meta: EntryMeta = {}): void {
    const path = normalizeRepoPath(rawPath);
    if (target.length === 0 || target.includes('\0'))
      throw new BridgeError('BAD_INPUT', `symlink ${path} has an empty or invalid target`);
    this.tree.putNew(path, {
      ...this.base(path, S_IFLNK, meta, 0o777),
      kind: 'symlink',
      symlink: target,
      sizeBytes: Buffer.byteLength(target),
    });
  }

  /** addSpecial for a new path under an existing directory. */
  addNewSpecial(rawPath: string, type: SpecialType, rdev = 0, meta: EntryMeta = {}): void {
    const path = normalizeRepoPath(rawPath);
    this.tree.putNew(path, {
      ...this.base(path, SPECIAL_TYPE_BITS[type], meta, 0o644),
      kind: 'special',
      sizeBytes: rdev,
    });
  }

  private async storeFile(
    path: string,
    content: Buffer | Readable | { file: string },
    meta: EntryMeta,
    handOver: boolean,
    put: (d: Dirent) => void,
  ): Promise<void> {
    let task: StoreTask;
    if (Buffer.isBuffer(content)) task = { buffer: handOver ? ownBytes(content) : copyBytes(content) };
    else if ('file' in content && typeof content.file === 'string') task = { file: content.file };
    else task = { file: await this.stage(content as Readable), deleteAfter: true };
    const base = this.base(path, S_IFREG, meta, 0o644);
    this.queue(path, task, (stored) => {
      put({
        ...base,
        kind: 'file',
        sizeBytes: stored.sizeBytes,
        hash: stored.hash,
        compressed: stored.compressed,
      });
    });
    await this.pool.waitForCapacity(this.maxInFlight, this.maxInFlightBytes);
  }

  private async stage(stream: Readable): Promise<string> {
    const file = join(this.stagingDir, `stage.${randomBytes(8).toString('hex')}`);
    await pipeline(stream, createWriteStream(file, { flags: 'wx' }));
    return file;
  }

  private queue(path: string, task: StoreTask, apply: (stored: StoredObject) => void): void {
    // One reaction per file (not then/catch/finally: three promises and microtasks each).
    const done = () => {
      if (this.pending.get(path) === promise) this.pending.delete(path);
      this.countBelow(path, -1);
    };
    const promise: Promise<void> = this.pool.store(task).then(
      (stored) => {
        try {
          this.cache.record(stored);
          if (stored.reused) this.stats.objectsReused++;
          this.stats.filesStored++;
          this.stats.bytesStored += stored.sizeBytes;
          apply(stored);
          this.startWriteBack();
        } catch (error) {
          this.failure ??= error;
        }
        done();
      },
      (error: unknown) => {
        this.failure ??= error;
        done();
      },
    );
    this.pending.set(path, promise);
    this.countBelow(path, +1);
  }

  private countBelow(path: string, by: 1 | -1): void {
    for (const dir of this.ancestorsOf(parentPath(path))) {
      const n = (this.pendingBelow.get(dir) ?? 0) + by;
      if (n === 0) this.pendingBelow.delete(dir);
      else this.pendingBelow.set(dir, n);
    }
  }

  /**
   * `dir` and its ancestors up to the root (''), memoised per directory: a layer's files share
   * few directories, and the same string objects (hashed once) make the counts' map lookups
   * cheap — slicing every ancestor afresh for each file and hashing it was ~3% of a layer's
   * main-thread time.
   */
  private ancestorsOf(dir: string): readonly string[] {
    let chain = this.ancestorMemo.get(dir);
    if (chain === undefined) {
      chain = dir === '' ? [''] : [dir, ...this.ancestorsOf(parentPath(dir))];
      if (this.ancestorMemo.size >= 16_384) this.ancestorMemo.clear();
      this.ancestorMemo.set(dir, chain);
    }
    return chain;
  }

  private readonly ancestorMemo = new Map<string, readonly string[]>();
}
