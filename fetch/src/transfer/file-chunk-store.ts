// webtorrent's chunk store for one file, without the copies. webtorrent stacks
// cache-chunk-store on fs-chunk-store: an upload of a 16 KiB block made the cache read the
// whole 4 MiB piece (fs-chunk-store then copied it once more: `concat` of a one-part list)
// and copied the block out of the cached piece (`slice`), a new 16 KiB buffer per block
// sent — per GiB uploaded 1 GiB of extra copies and 65,536 buffers for the GC (seeder
// profile, node-agent README "Benchmark"). This store answers a block request with a view
// of the cached piece: one positional read per piece (async, thread pool), no copy after it.
//
// Windows: a piece can be read in parts (`windowBytes`), but whole pieces (the default) cost
// the least: with 256 KiB windows a seeder spent more CPU per GiB uploaded (3.85 s against
// 2.67, bench/upload.ts) and made 2.5 times as many mark-compacts (--trace-gc).

// What is cached: only windows read for gets with an offset (`{ offset, length }`:
// webtorrent asks so only to answer a peer's request, and only for verified pieces, which
// are never written again — piece-verify.ts writes only into pieces being assembled).
// Whole-piece gets (webtorrent's check of existing data at start, whose pieces may be
// incomplete and be written later) read past the cache and are not kept. A put drops the
// piece's windows.
//
// Window buffers are reused (`Slab`): a new 4 MiB buffer per piece served was a fresh
// backing store each time (malloc/mmap, new pages to fault in, external memory that drives
// V8's mark-compacts). A view handed out by `get` may still sit in a socket's queue, so a
// buffer is reused only once it has left the cache and every view of it was given back
// with `returnView` — which socket-output.ts calls when the socket has written the view (the
// write's callback: the kernel holds a copy). A view that is never given back (dropped
// unsent, copied on the stream way, a closed socket that never calls back) keeps its buffer
// out of reuse for good: the garbage collector frees it as before. Fail-safe: only a count
// of views given back, each at most once, can free a buffer.
//
// Same interface and behaviour as fs-chunk-store for a single-file torrent: the file is
// opened lazily (created if missing, never truncated: resume), a short read is an error
// (webtorrent treats the piece as missing), `destroy` removes the file.

import { close, constants, fstat, mkdir, open, read, rm, write } from 'node:fs';
import { dirname, join } from 'node:path';

type Callback<T = void> = (err: Error | null, value?: T) => void;

export interface FileChunkStoreOptions {
  /** directory of the torrent's files (webtorrent's `path`) */
  path?: string;
  /** the torrent's files (webtorrent passes them): exactly one */
  files?: Array<{ path: string; length: number }>;
  /** total length in bytes */
  length?: number;
  /** windows kept in memory for uploads; 0 = every block read on its own */
  cacheSlots?: number;
  /** bytes read at once for uploads; default (and at most) the piece length */
  windowBytes?: number;
}

/** A window buffer and the views of it handed out and not given back yet. */
interface Slab {
  readonly buffer: Buffer;
  /** views handed out by `get`, not given back with `returnView` */
  lent: number;
  /** still in the cache: more views may be handed out */
  cached: boolean;
  /** a read into it is under way */
  reading: boolean;
  /** where it goes once neither cached nor lent */
  readonly store: FileChunkStore;
}

/** Views handed out by `get` from slabs, until given back (each view object at most once). */
const lentViews = new WeakMap<Uint8Array, Slab>();

/** Whether `view` is a block view the store lent out and wants back (`returnView`). */
export function isLentView(view: Uint8Array): boolean {
  return lentViews.has(view);
}

/**
 * `view` (from `get`) is no longer used anywhere (written to the socket: the kernel has its
 * bytes); its buffer may be read into again once no other view of it is out. Harmless for
 * any other buffer and for a view given back before.
 */
export function returnView(view: Uint8Array): void {
  const slab = lentViews.get(view);
  if (!slab) return;
  lentViews.delete(view);
  slab.lent -= 1;
  slab.store.settle(slab);
}

interface CachedWindow {
  /** the window's bytes, once read */
  data?: Uint8Array;
  /** the buffer `data` is read into */
  slab: Slab;
  /** gets waiting for the read */
  waiters: Array<(err: Error | null, data?: Uint8Array, slab?: Slab) => void>;
}

export const DEFAULT_CACHE_SLOTS = 4;

export class FileChunkStore {
  readonly chunkLength: number;
  readonly length: number;
  readonly path: string;
  closed = false;
  private readonly lastChunkIndex: number;
  private readonly lastChunkLength: number;
  private readonly cacheSlots: number;
  private readonly windowBytes: number;
  private readonly windowsPerPiece: number;
  /** by window number (piece × windowsPerPiece + window); insertion order = least recently used first */
  private readonly cache = new Map<number, CachedWindow>();
  private fd: number | undefined;
  /** reads and writes under way on `fd`: it is closed only after them (a reused fd number
   *  would otherwise let a queued read see another file) */
  private inFlight = 0;
  private afterInFlight: Array<() => void> = [];
  /** callbacks waiting for the file to open */
  private opening: Array<Callback<number>> | undefined;
  /** window buffers free to be read into again (see `Slab`) */
  private readonly spare: Buffer[] = [];
  /** window buffers allocated so far (the rest of the windows read reused one) */
  buffersAllocated = 0;

  constructor(chunkLength: number, opts: FileChunkStoreOptions = {}) {
    if (!(Number.isInteger(chunkLength) && chunkLength > 0)) {
      throw new Error(`chunk length must be a positive integer, got ${chunkLength}`);
    }
    const file = opts.files?.[0];
    if (!file || opts.files?.length !== 1) throw new Error('FileChunkStore holds exactly one file');
    if (opts.length !== undefined && opts.length !== file.length) {
      throw new Error(`file length ${file.length} differs from the torrent length ${opts.length}`);
    }
    this.chunkLength = chunkLength;
    this.length = file.length;
    this.path = opts.path ? join(opts.path, file.path) : file.path;
    this.lastChunkIndex = Math.max(0, Math.ceil(this.length / chunkLength) - 1);
    this.lastChunkLength = this.length - this.lastChunkIndex * chunkLength;
    this.cacheSlots = Math.max(0, opts.cacheSlots ?? DEFAULT_CACHE_SLOTS);
    this.windowBytes = Math.min(chunkLength, Math.max(1, opts.windowBytes ?? chunkLength));
    this.windowsPerPiece = Math.ceil(chunkLength / this.windowBytes);
  }

  put(index: number, buf: Uint8Array, cb: Callback = () => {}): void {
    if (this.closed) {
      later(cb, new Error('Storage is closed'));
      return;
    }
    const expected = this.pieceLength(index);
    if (expected < 0) {
      later(cb, new Error(`no piece ${index}`));
      return;
    }
    if (buf.length !== expected) {
      later(cb, new Error(`piece ${index} must be ${expected} bytes, got ${buf.length}`));
      return;
    }
    for (let w = 0; w < this.windowsPerPiece; w++) this.evict(index * this.windowsPerPiece + w);
    this.withFd((err, fd) => {
      if (err || fd === undefined) {
        cb(err ?? new Error('no file'));
        return;
      }
      writeAll(fd, buf, index * this.chunkLength, this.track(cb));
    });
  }

  get(
    index: number,
    opts: { offset?: number; length?: number } | null | Callback<Uint8Array>,
    cb?: Callback<Uint8Array>,
  ): void {
    if (typeof opts === 'function') {
      this.get(index, null, opts);
      return;
    }
    const done = cb ?? (() => {});
    if (this.closed) {
      later(done, new Error('Storage is closed'));
      return;
    }
    const pieceLength = this.pieceLength(index);
    const offset = opts?.offset ?? 0;
    const length = opts?.length ?? pieceLength - offset;
    if (pieceLength < 0 || offset < 0 || length < 0 || offset + length > pieceLength) {
      later(done, new Error(`invalid range ${offset}+${length} of piece ${index}`));
      return;
    }
    if (length === 0) {
      later(done, null, new Uint8Array(0));
      return;
    }
    // webtorrent gives an offset only for a peer's request (its check of existing data gives
    // at most a length, for the last piece): only those gets go through the cache.
    const window = Math.floor(offset / this.windowBytes);
    const windowStart = window * this.windowBytes;
    const windowLength = Math.min(this.windowBytes, pieceLength - windowStart);
    if (opts?.offset === undefined || this.cacheSlots === 0 || offset + length > windowStart + windowLength) {
      this.readRange(index * this.chunkLength + offset, length, done);
      return;
    }
    const position = index * this.chunkLength + windowStart;
    this.cachedWindow(index * this.windowsPerPiece + window, position, windowLength, (err, data, slab) => {
      if (err || !data || !slab) {
        done(err ?? new Error(`piece ${index} not read`));
        return;
      }
      // the slab counted this get as lent (cachedWindow): the view now carries it
      const view = data.subarray(offset - windowStart, offset - windowStart + length);
      lentViews.set(view, slab);
      done(null, view);
    });
  }

  close(cb: Callback = () => {}): void {
    if (this.closed) {
      later(cb, new Error('Storage is closed'));
      return;
    }
    this.closed = true;
    for (const key of [...this.cache.keys()]) this.evict(key);
    this.spare.length = 0;
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) {
      later(cb, null);
      return;
    }
    const closeFd = (): void => close(fd, (err) => cb(err));
    if (this.inFlight > 0) this.afterInFlight.push(closeFd);
    else closeFd();
  }

  /** `cb` of an operation on the open fd: counted until it is called. */
  private track<T>(cb: Callback<T>): Callback<T> {
    this.inFlight++;
    return (err, value) => {
      this.inFlight--;
      if (this.inFlight === 0) for (const next of this.afterInFlight.splice(0)) next();
      cb(err, value);
    };
  }

  destroy(cb: Callback = () => {}): void {
    this.close(() => rm(this.path, { force: true }, (err) => cb(err)));
  }

  /** Length of piece `index`, or -1 if there is no such piece. */
  private pieceLength(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index > this.lastChunkIndex) return -1;
    return index === this.lastChunkIndex ? this.lastChunkLength : this.chunkLength;
  }

  private cachedWindow(
    key: number,
    position: number,
    length: number,
    cb: (err: Error | null, data?: Uint8Array, slab?: Slab) => void,
  ): void {
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key); // most recently used: to the end
      this.cache.set(key, hit);
      // counted as lent from now: evicted before the callback runs, it is not reused
      hit.slab.lent += 1;
      const data = hit.data;
      if (data) queueMicrotask(() => cb(null, data, hit.slab));
      else hit.waiters.push(cb);
      return;
    }
    let buffer = this.spare.pop();
    if (!buffer) {
      buffer = Buffer.allocUnsafe(this.windowBytes);
      this.buffersAllocated += 1;
    }
    const slab: Slab = { buffer, lent: 1, cached: true, reading: true, store: this };
    const entry: CachedWindow = { waiters: [cb], slab };
    this.cache.set(key, entry);
    for (const [old, value] of this.cache) {
      if (this.cache.size <= this.cacheSlots) break;
      if (value.data) this.evict(old); // a read in progress stays until it completes
    }
    // verified pieces are on disk: no size check first (a short read is still an error)
    const onRead = (err: Error | null, data?: Uint8Array): void => {
      if (err || !data) {
        if (this.cache.get(key) === entry) this.evict(key);
      } else {
        entry.data = data;
      }
      slab.reading = false;
      const waiters = entry.waiters.splice(0);
      if (err || !data) slab.lent -= waiters.length;
      for (const waiter of waiters) waiter(err, data, slab);
      this.settle(slab); // evicted while it was read (a put), or a failed read
    };
    this.withFd((err, fd) => {
      if (err || fd === undefined) {
        onRead(err ?? new Error('no file'));
        return;
      }
      this.readInto(fd, position, length, this.track(onRead), slab.buffer.subarray(0, length));
    });
  }

  /** Drops a cached window; its buffer is reused once no view of it is lent out. */
  private evict(key: number): void {
    const entry = this.cache.get(key);
    if (!entry) return;
    this.cache.delete(key);
    entry.slab.cached = false;
    this.settle(entry.slab);
  }

  /** Takes `slab` back as a spare if it is neither cached nor lent (see `Slab`). */
  settle(slab: Slab): void {
    if (slab.cached || slab.reading || slab.lent > 0 || this.closed) return;
    if (this.spare.length < this.cacheSlots && !this.spare.includes(slab.buffer))
      this.spare.push(slab.buffer);
  }

  /** Reads exactly `length` bytes at `position` into a new buffer; a short file is an error. */
  private readRange(position: number, length: number, whenRead: Callback<Uint8Array>): void {
    this.withFd((err, fd) => {
      if (err || fd === undefined) {
        whenRead(err ?? new Error('no file'));
        return;
      }
      const cb = this.track(whenRead);
      // The check of existing data at the start of a new download asks for every piece of a
      // file that is still empty: answer from its size, without a piece buffer each.
      fstat(fd, (statErr, stat) => {
        if (statErr) {
          cb(statErr);
          return;
        }
        const present = Math.max(0, Math.min(length, stat.size - position));
        if (present < length) {
          cb(new Error(`${this.path}: short read, ${present} of ${length} bytes at ${position}`));
          return;
        }
        this.readInto(fd, position, length, cb);
      });
    });
  }

  private readInto(
    fd: number,
    position: number,
    length: number,
    cb: Callback<Uint8Array>,
    out: Uint8Array = Buffer.allocUnsafe(length),
  ): void {
    const step = (done: number): void => {
      if (done === length) {
        cb(null, out);
        return;
      }
      read(fd, out, done, length - done, position + done, (readErr, n) => {
        if (readErr) {
          cb(readErr);
          return;
        }
        if (n === 0) {
          cb(new Error(`${this.path}: short read, ${done} of ${length} bytes at ${position}`));
          return;
        }
        step(done + n);
      });
    };
    step(0);
  }

  /** The file, opened (created if missing, never truncated) on first use; an open error is retried next time. */
  private withFd(cb: Callback<number>): void {
    if (this.fd !== undefined) {
      cb(null, this.fd);
      return;
    }
    if (this.opening) {
      this.opening.push(cb);
      return;
    }
    const waiters = [cb];
    this.opening = waiters;
    const finish = (err: Error | null, fd?: number): void => {
      this.opening = undefined;
      if (!err && fd !== undefined) {
        if (this.closed) {
          close(fd, () => {});
          err = new Error('Storage is closed');
        } else {
          this.fd = fd;
        }
      }
      for (const waiter of waiters) waiter(err, err ? undefined : fd);
    };
    // Read-write, created if missing, as fs-chunk-store opens it; an installed image that is
    // read-only to this user is still served.
    mkdir(dirname(this.path), { recursive: true }, () => {
      open(this.path, constants.O_RDWR | constants.O_CREAT, 0o666, (err, fd) => {
        if (!err) {
          finish(null, fd);
          return;
        }
        if (err.code !== 'EACCES' && err.code !== 'EPERM' && err.code !== 'EROFS') {
          finish(err);
          return;
        }
        open(this.path, 'r', (roErr, roFd) => finish(roErr, roFd));
      });
    });
  }
}

function writeAll(fd: number, buf: Uint8Array, position: number, cb: Callback): void {
  const step = (done: number): void => {
    if (done === buf.length) {
      cb(null);
      return;
    }
    write(fd, buf, done, buf.length - done, position + done, (err, n) => {
      if (err) {
        cb(err);
        return;
      }
      step(done + n);
    });
  };
  step(0);
}

function later<T>(cb: Callback<T>, err: Error | null, value?: T): void {
  queueMicrotask(() => cb(err, value));
}
