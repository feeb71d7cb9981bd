// Hashing off the main thread. A 1 GiB download costs ~0.7 s of SHA-1 (piece checks) and
// ~0.7 s of sha256 (whole-file check) per core; on the main thread both stall the socket
// reads. Both run in one worker thread, on one staged file (`FileHasher`), reading it back
// from the page cache (piece-verify.ts writes each received block straight to the file):
//
// - `sha1Piece(index)`: the piece check, once every block of the piece was written.
// - `piecesOnDisk(indexes)` / `digest()`: the whole-file sha256 of the staged file, computed
//   while it downloads. It is told which pieces are verified and hashes the longest complete
//   prefix, in order. It therefore covers exactly the verified bytes on disk, whatever order
//   pieces arrive in and whether they came in this run or an earlier one (resume), and
//   `digest()` needs no second full pass when the download ends.
//
// The worker code is an inline string (eval: true) so it runs the same from src/ under
// vitest and from dist/. One thread does both (each worker isolate costs RSS).

import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
// key -> { path, fd, size, pieceLength, pieceCount, next, ready: Set, hash }
const files = new Map();
// Pieces are read back in slices of this size: one small buffer, whatever the piece length.
const READ_SIZE = 1 << 20;
let readBuf = null;
function closeFile(key) {
  const file = files.get(key);
  files.delete(key);
  if (file && file.fd !== null) fs.closeSync(file.fd);
}
// Feeds piece "index" of the file, read back in slices, to "hash" (and "also", if given).
function hashPiece(file, index, hash, also) {
  // The file appears with the first written block: opened on first use.
  if (file.fd === null) file.fd = fs.openSync(file.path, 'r');
  const start = index * file.pieceLength;
  const length = Math.min(file.pieceLength, file.size - start);
  if (!readBuf) readBuf = Buffer.allocUnsafe(READ_SIZE);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(file.fd, readBuf, 0, Math.min(READ_SIZE, length - done), start + done);
    if (n === 0) throw new Error('staged file is shorter than the torrent (piece ' + index + ')');
    hash.update(readBuf.subarray(0, n));
    if (also) also.update(readBuf.subarray(0, n));
    done += n;
  }
}
// Hashes up to "limit" ready pieces in order; returns whether more are ready.
function drain(file, limit) {
  for (let n = 0; n < limit && file.next < file.pieceCount && file.ready.has(file.next); n++) {
    const index = file.next;
    hashPiece(file, index, file.hash);
    file.ready.delete(index);
    file.next += 1;
  }
  return file.next < file.pieceCount && file.ready.has(file.next);
}
// A backlog (a resumed download reports every piece already on disk at once) is hashed a
// few pieces per turn, so piece SHA-1 requests queued meanwhile are not held up behind it.
function drainSoon(key) {
  const file = files.get(key);
  if (!file || file.error || file.draining) return;
  file.draining = true;
  setImmediate(() => {
    file.draining = false;
    if (files.get(key) !== file || file.error) return;
    try {
      if (drain(file, 4)) drainSoon(key);
    } catch (err) {
      file.error = String((err && err.message) || err);
    }
  });
}
parentPort.on('message', (m) => {
  try {
    if (m.op === 'sha1Piece') {
      const file = files.get(m.key);
      if (!file) throw new Error('no staged file open');
      if (!(m.index >= 0 && m.index < file.pieceCount)) throw new Error('no piece ' + m.index);
      const hash = createHash('sha1');
      // The piece next in file order also goes into the whole-file sha256 from the same read,
      // kept only if the piece is the one expected (else the sha256 stays as it was).
      const next = m.index === file.next && !file.error ? file.hash.copy() : null;
      hashPiece(file, m.index, hash, next);
      const hex = hash.digest('hex');
      if (next && hex === m.expected) {
        file.hash = next;
        file.next += 1;
        file.ready.delete(m.index);
        drainSoon(m.key);
      }
      parentPort.postMessage({ id: m.id, hex });
    } else if (m.op === 'open') {
      closeFile(m.key);
      files.set(m.key, { path: m.path, fd: null, size: m.size, pieceLength: m.pieceLength,
        pieceCount: m.pieceCount, next: 0, ready: new Set(), hash: createHash('sha256'), error: null,
        draining: false });
    } else if (m.op === 'pieces') {
      const file = files.get(m.key);
      if (!file || file.error) return;
      for (const i of m.indexes) if (i >= file.next) file.ready.add(i);
      drainSoon(m.key);
    } else if (m.op === 'digest') {
      const file = files.get(m.key);
      if (!file) throw new Error('no whole-file hash open');
      if (file.error) throw new Error(file.error);
      drain(file, Infinity);
      if (file.next !== file.pieceCount) {
        throw new Error('whole-file hash incomplete: ' + file.next + ' of ' + file.pieceCount + ' pieces');
      }
      const size = file.fd === null ? fs.statSync(file.path).size : fs.fstatSync(file.fd).size;
      const hex = file.hash.digest('hex');
      closeFile(m.key);
      if (size !== file.size) throw new Error('staged file has ' + size + ' bytes, the torrent ' + file.size);
      parentPort.postMessage({ id: m.id, hex, size });
    } else if (m.op === 'close') {
      closeFile(m.key);
    }
  } catch (err) {
    if (m.key !== undefined && m.op !== 'sha1Piece') closeFile(m.key);
    if (m.id !== undefined) parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

interface Reply {
  id?: number;
  hex?: string;
  size?: number;
  error?: string;
}

/** One worker thread with request/reply by id; it keeps the process alive only while a reply is awaited. */
class HashThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private failed: Error | undefined;

  constructor() {
    // Small heap limits: the worker holds no JS data beyond a few hash states.
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
    });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      if (reply.id === undefined) return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (!waiter) return;
      if (reply.error) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply);
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`hash worker exited (${code})`)));
  }

  call(message: Record<string, unknown>): Promise<Reply> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    // Referenced while a reply is awaited, so the process does not exit under an awaited hash.
    if (this.pending.size === 0) this.worker.ref();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  post(message: Record<string, unknown>): void {
    if (!this.failed) this.worker.postMessage(message);
  }

  async terminate(): Promise<void> {
    this.failed ??= new Error('hash worker stopped');
    await this.worker.terminate();
  }
}

/** The engine's hashing thread: piece SHA-1 checks and whole-file sha256 of staged files. */
export class HashWorker {
  private readonly thread = new HashThread();
  private nextKey = 1;

  /** Starts the whole-file sha256 of one staged file (see FileHasher). */
  hashFile(layout: FileHashLayout): FileHasher {
    return new FileHasher(this.thread, this.nextKey++, layout);
  }

  terminate(): Promise<void> {
    return this.thread.terminate();
  }
}

export interface FileHashLayout {
  path: string;
  size: number;
  pieceLength: number;
  pieceCount: number;
}

/** One staged file: piece SHA-1 checks, and its whole-file sha256 fed with the verified pieces. */
export class FileHasher {
  constructor(
    private readonly thread: HashThread,
    private readonly key: number,
    readonly layout: FileHashLayout,
  ) {
    thread.post({ op: 'open', key, ...layout });
  }

  /**
   * SHA-1 (hex) of piece `index` as it is in the file now (every block of it written). When it
   * equals `expected` and the piece is the next one in file order, the same read also feeds
   * the whole-file sha256 (reporting it through `piecesOnDisk` later is then harmless).
   */
  async sha1Piece(index: number, expected: string): Promise<string> {
    const reply = await this.thread.call({ op: 'sha1Piece', key: this.key, index, expected });
    if (reply.hex === undefined) throw new Error('hash worker gave no SHA-1');
    return reply.hex;
  }

  /** Pieces `indexes` are verified and written; they are read back in file order. */
  piecesOnDisk(indexes: number[]): void {
    if (indexes.length) this.thread.post({ op: 'pieces', key: this.key, indexes });
  }

  /** sha256 (hex) and size of the file once every piece was reported; rejects if one is missing. */
  async digest(): Promise<{ sha256: string; size: number }> {
    const reply = await this.thread.call({ op: 'digest', key: this.key });
    if (reply.hex === undefined || reply.size === undefined) throw new Error('hash worker gave no sha256');
    return { sha256: reply.hex, size: reply.size };
  }

  close(): void {
    this.thread.post({ op: 'close', key: this.key });
  }
}
