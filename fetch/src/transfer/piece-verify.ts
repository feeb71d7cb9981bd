// Webtorrent's piece receive path, made cheaper. webtorrent keeps every received block in
// memory until its piece is complete, concatenates the piece, hashes it synchronously inside
// `Torrent#_request` (lib/torrent.js) and then writes it through its chunk store in one
// piece-sized write. This replaces `_request` on each torrent instance with a copy of
// webtorrent 3.0.21's (MIT, WebTorrent LLC) that differs in these ways:
//   - each new block is written to the staged file at its offset as it arrives, with one
//     positional write (`BlockFile`), and nothing of it is kept: no piece is ever in memory;
//   - the complete piece is hashed in a worker thread that reads it back from the page cache
//     (hash-worker.ts), and is marked verified only if its SHA-1 matches;
//   - a piece that fails its hash is read back once and handed to peer-bans.ts
//     (FAILED_PIECE_EVENT) with the peer that sent each block (smart ban);
//   - the request rounds queued by the blocks of one socket read are merged into one, and so
//     are its block writes: consecutive blocks go to the file in one `pwritev` (`stage`),
//     at the end of the read's parse (wire-parser.ts `onParseEnd`: the blocks may be views
//     of a read buffer that is reused after it) or before anything reads the file.
// Everything else — reservations, hotswap, the `Piece N failed verification` warning,
// `_markVerified` only after the data is on disk — is unchanged.
//
// Why blocks and not pieces: on this kernel (6.18, ext4) a piece-sized write allocates large
// page-cache folios, and in a VM whose free memory goes back to the host those cost 2–3 s of
// system time per GiB (perf: `copy_folio_from_iter_atomic`); 16 KiB writes cost ~0.3 s. And
// no piece buffers means no 4 MiB buffers to pool, copy (`relaxed_memmove`: copies into a
// SharedArrayBuffer run at ~2.5 GB/s) or hand to the worker.
//
// Unverified bytes in the file are harmless: only verified pieces are served, counted,
// recorded for resume (resume.ts) or fed to the whole-file sha256; a failed piece is
// overwritten by its next download. A block is written only while its piece is still being
// assembled and only the first copy of it (end-game duplicates are dropped), so nothing is
// ever written over a piece that is being hashed or verified.
//
// The copy is tied to one webtorrent version: the original method's source is fingerprinted
// and, if it differs (webtorrent upgraded), nothing is replaced, webtorrent's own path stays
// in place and the engine logs a warning. In the CLI bundle (node-agent/scripts/bundle.mjs)
// esbuild has reprinted webtorrent's code, so the bundler fingerprints the file it bundles
// before bundling it and records the webtorrent version it checked; the bundle then accepts
// exactly that version.

import { createHash } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, readSync, writeSync, writevSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Torrent, Wire } from 'webtorrent';
import { FAILED_PIECE_EVENT, type FailedPiece } from './peer-bans.js';
import { onParseEnd } from './wire-parser.js';

/** sha256 of `Torrent.prototype._request.toString()` in webtorrent 3.0.21 */
export const REQUEST_FINGERPRINT = 'a4e6156ed3a523b220300908bc3566d5364a9c500f7553de1f43b00c599630d3';

/** What the bundler defines (esbuild `define`): the webtorrent version it fingerprinted. */
declare const __TSW_BUNDLED_WEBTORRENT__: string | undefined;
const bundledWebtorrent =
  typeof __TSW_BUNDLED_WEBTORRENT__ === 'string' ? __TSW_BUNDLED_WEBTORRENT__ : undefined;

export function requestFingerprint(request: (...args: never[]) => unknown): string {
  return createHash('sha256').update(request.toString()).digest('hex');
}

/**
 * Whether `request` is the `_request` this module's copy was made from: its source matches the
 * fingerprint, or (in a bundle, whose reprinted source cannot match) the running webtorrent is
 * the version the bundler fingerprinted (`bundled`).
 */
export function isKnownRequest(
  request: (...args: never[]) => unknown,
  runningVersion: string | undefined,
  bundled: string | undefined = bundledWebtorrent,
): boolean {
  if (requestFingerprint(request) === REQUEST_FINGERPRINT) return true;
  return bundled !== undefined && runningVersion === bundled;
}

const BLOCK_LENGTH = 1 << 14;
// As webtorrent's, which this project patches to 3 s (patches/webtorrent@3.0.21.patch).
const PIPELINE_MAX_DURATION = 3;

/** What checks a complete piece: SHA-1 of the piece as it is in the staged file. */
export interface PieceChecker {
  /** `expected`: the torrent's hash of the piece (a checker may use the read for more) */
  sha1Piece(index: number, expected: string): Promise<string>;
}

interface PieceLike {
  length: number;
  _buffer: Array<Uint8Array | undefined> | null;
  _chunks: number;
  _buffered: number;
  _cancellations: number[] | null;
  sources: unknown[] | null;
  _flushed: boolean;
  reserve(): number;
  reserveRemaining(): number;
  cancel(i: number): void;
  cancelRemaining(i: number): void;
  chunkOffset(i: number): number;
  chunkLength(i: number): number;
  chunkLengthRemaining(i: number): number;
  set(i: number, data: Uint8Array, source: Wire): boolean;
}

interface WireLike {
  type: string;
  requests: unknown[];
  remoteAddress?: string;
  remotePort?: number;
  peerExtendedHandshake?: { reqq?: unknown };
  downloadSpeed(): number;
  have(index: number): void;
  request(
    index: number,
    offset: number,
    length: number,
    cb: (err: Error | null, chunk: Uint8Array) => void,
  ): void;
}

interface TorrentInternals {
  destroyed: boolean;
  ready: boolean;
  pieceLength: number;
  maxWebConns: number;
  pieces: Array<PieceLike | null>;
  _hashes: string[];
  _reservations: Array<Array<WireLike | null> | null>;
  bitfield: { get(i: number): boolean };
  wires: WireLike[];
  _request(wire: WireLike, index: number, hotswap: boolean): boolean;
  _hotswap(wire: WireLike, index: number): boolean;
  _debug(...args: unknown[]): void;
  _destroy(err: unknown): void;
  _markVerified(index: number): void;
  _checkDone(): boolean;
  _update(): void;
  once(event: string, fn: () => void): void;
  emit(event: string, ...args: unknown[]): boolean;
}

function getBlockPipelineLength(wire: WireLike, duration: number): number {
  let length = 2 + Math.ceil((duration * wire.downloadSpeed()) / BLOCK_LENGTH);
  const reqq = wire.peerExtendedHandshake?.reqq;
  if (typeof reqq === 'number' && reqq > 0) length = Math.min(length, reqq);
  return length;
}

function getPiecePipelineLength(wire: WireLike, duration: number, pieceLength: number): number {
  return 1 + Math.ceil((duration * wire.downloadSpeed()) / pieceLength);
}

/** Longest run of consecutive blocks written with one `pwritev` (and at most IOV_MAX parts). */
export const GATHER_BYTES = 1024 * 1024;
const MAX_PARTS = 1024;

/**
 * The staged file, written block by block with positional writes. Synchronous: a 16 KiB
 * write into the page cache takes microseconds, less than handing it to libuv's thread pool,
 * and the block (often a view of the socket read, or wire-parser.ts's reused buffer) need
 * not outlive the call (or, staged, the parse of its read). A slow disk therefore slows the
 * socket reads: back-pressure.
 */
export class BlockFile {
  private fd: number | undefined;
  /** staged blocks, consecutive in the file from `runStart`, not written yet */
  private readonly run: Uint8Array[] = [];
  private runStart = 0;
  private runBytes = 0;

  constructor(
    readonly path: string,
    private readonly gatherBytes = GATHER_BYTES,
  ) {}

  /**
   * Creates the file (and its directory) if missing, before the torrent starts. webtorrent's
   * chunk store opens the file lazily on its first operation; when that is a read of a file
   * that does not exist yet (the check of existing data at start), its storage stays "Not
   * opened" for good and every later read fails, so the agent rejects every upload request.
   * (webtorrent's own path never noticed: its first put reopened the storage for writing.)
   */
  prepare(): void {
    this.open();
  }

  /** Writes `data` at `position`, 16 KiB per call (see the module comment). */
  write(data: Uint8Array, position: number): void {
    this.flush();
    this.writeNow(data, position);
  }

  /**
   * Writes `data` at `position` later, with the blocks staged next to it, by `flush()` at the
   * latest; `data` must stay as it is until then. Throws what the write of the run staged
   * before it threw, if that run had to be written first (not adjacent).
   */
  stage(data: Uint8Array, position: number): void {
    if (
      this.runBytes > 0 &&
      (position !== this.runStart + this.runBytes ||
        this.runBytes + data.length > this.gatherBytes ||
        this.run.length >= MAX_PARTS)
    ) {
      this.flush();
    }
    if (this.runBytes === 0) this.runStart = position;
    this.run.push(data);
    this.runBytes += data.length;
  }

  /** Whether blocks are staged and not written yet. */
  get staged(): boolean {
    return this.runBytes > 0;
  }

  /** Writes the staged blocks (one `pwritev`); nothing is staged after it, even if it throws. */
  flush(): void {
    if (this.runBytes === 0) return;
    const start = this.runStart;
    const bytes = this.runBytes;
    this.runBytes = 0;
    try {
      if (this.run.length === 1) {
        this.writeNow(this.run[0] as Uint8Array, start);
        return;
      }
      const done = writevSync(this.open(), this.run, start);
      if (done < bytes) this.writeRest(done, start);
    } finally {
      this.run.length = 0;
    }
  }

  /** After a short `pwritev` (rare): the rest of the run, block by block. */
  private writeRest(done: number, start: number): void {
    let skip = done;
    let position = start;
    for (const part of this.run) {
      if (skip >= part.length) {
        skip -= part.length;
        position += part.length;
        continue;
      }
      this.writeNow(part.subarray(skip), position + skip);
      position += part.length;
      skip = 0;
    }
  }

  private writeNow(data: Uint8Array, position: number): void {
    const fd = this.open();
    for (let done = 0; done < data.length; ) {
      const length = Math.min(BLOCK_LENGTH, data.length - done);
      done += writeSync(fd, data, done, length, position + done);
    }
  }

  read(position: number, length: number): Uint8Array {
    this.flush();
    const out = new Uint8Array(length);
    const fd = this.open();
    for (let done = 0; done < length; ) {
      const n = readSync(fd, out, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return out;
  }

  /** Closes the file; blocks still staged are dropped (unverified: a later run fetches them). */
  close(): void {
    this.runBytes = 0;
    this.run.length = 0;
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd === undefined) {
      // As fs-chunk-store does: the directory may not exist yet; never truncate (resume).
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o666);
    }
    return this.fd;
  }
}

/**
 * The blocks of the pieces being assembled: each new block goes to the file, torrent-piece
 * keeps a placeholder (a zero view of the block's length, never read: webtorrent counts
 * `missing` bytes by it), and the sender of every block is remembered for the ban logic.
 */
class BlockSink {
  private placeholder = new Uint8Array(0);
  /** the peer whose data each block of the piece holds (the first copy received) */
  private readonly senders = new WeakMap<PieceLike, Array<WireLike | undefined>>();

  constructor(
    private readonly file: BlockFile,
    private readonly pieceLength: number,
    /** called when the first block after a flush is staged */
    private readonly onStaged: () => void,
  ) {}

  /**
   * Stages the blocks of `chunk` not received yet (written by the file's `flush`, see the
   * module comment); returns what torrent-piece should keep.
   */
  place(piece: PieceLike, index: number, reservation: number, chunk: Uint8Array, wire: WireLike): Uint8Array {
    const blocks = piece._buffer;
    if (!blocks) return chunk; // never the case after reserve(): torrent-piece ignores it
    let senders = this.senders.get(piece);
    if (!senders) {
      senders = [];
      this.senders.set(piece, senders);
    }
    const count = Math.ceil(chunk.length / BLOCK_LENGTH);
    for (let j = 0; j < count; j++) {
      const block = reservation + j;
      if (block >= blocks.length || blocks[block]) continue; // a duplicate: the first copy stays
      const from = j * BLOCK_LENGTH;
      if (!this.file.staged) this.onStaged();
      this.file.stage(
        count === 1 ? chunk : chunk.subarray(from, from + BLOCK_LENGTH),
        index * this.pieceLength + block * BLOCK_LENGTH,
      );
      senders[block] = wire;
    }
    if (this.placeholder.length < chunk.length) this.placeholder = new Uint8Array(chunk.length);
    return this.placeholder.subarray(0, chunk.length);
  }

  /** torrent-piece's `flush()` without the data: who sent each block of the complete piece. */
  complete(piece: PieceLike): Array<WireLike | undefined> {
    if (!piece._buffer || piece._chunks !== piece._buffered) {
      throw new Error('piece flushed before it was complete');
    }
    const senders = this.senders.get(piece) ?? [];
    this.senders.delete(piece);
    piece._buffer = null;
    piece._cancellations = null;
    piece.sources = null;
    piece._flushed = true;
    return senders;
  }
}

function failedPiece(index: number, data: Uint8Array, senders: Array<WireLike | undefined>): FailedPiece {
  const blocks: FailedPiece['blocks'] = [];
  for (let j = 0; j * BLOCK_LENGTH < data.length; j++) {
    const wire = senders[j];
    const offset = j * BLOCK_LENGTH;
    if (wire)
      blocks.push({
        wire: wire as unknown as Wire,
        offset,
        length: Math.min(BLOCK_LENGTH, data.length - offset),
      });
  }
  return { index, data, blocks };
}

/** A function that runs `fn` in a microtask, once however often it is called before that. */
function oncePerMicrotask(fn: () => void): () => void {
  let queued = false;
  const run = (): void => {
    queued = false;
    fn();
  };
  return () => {
    if (queued) return;
    queued = true;
    queueMicrotask(run);
  };
}

/**
 * Replaces webtorrent's receive path on `torrent` (see the module comment): blocks go to
 * `file`, complete pieces are checked by `checker`. Returns whether it was replaced (false:
 * unknown webtorrent version).
 */
export function writeBlocksToFile(torrent: Torrent, file: BlockFile, checker: PieceChecker): boolean {
  const self = torrent as unknown as TorrentInternals;
  const original = Object.getPrototypeOf(self)._request as (...args: unknown[]) => boolean;
  const client = (torrent as unknown as { client?: { constructor?: { VERSION?: unknown } } }).client;
  const version = client?.constructor?.VERSION;
  if (!isKnownRequest(original, typeof version === 'string' ? version : undefined)) return false;
  // Staged blocks are written at the end of each parse of a socket read (wire-parser.ts),
  // or, for reads parsed by bittorrent-protocol itself (encrypted wires, whose buffers are
  // not reused), in a microtask at the latest. A failed write is a failed torrent, as before.
  const flushBlocks = (): void => {
    try {
      file.flush();
    } catch (writeErr) {
      self._destroy(writeErr); // e.g. ENOSPC: the engine reports DISK_FULL
    }
  };
  const flushSoon = oncePerMicrotask(flushBlocks);
  onParseEnd(torrent, flushBlocks);
  let sink: BlockSink | undefined; // the piece length is known once the metadata is
  const blockSink = (): BlockSink => {
    sink ??= new BlockSink(file, self.pieceLength, flushSoon);
    return sink;
  };
  self.once('close', () => file.close());

  // webtorrent queues one request round (`_update`, over every wire) per received block; the
  // blocks of one socket read are parsed in one go, so the rounds are merged: one per batch.
  const onUpdateTick = oncePerMicrotask(() => self._update());

  // The complete piece, already in the file: SHA-1 in the worker, then marked verified.
  const verify = async (piece: PieceLike, index: number): Promise<void> => {
    let hex: string;
    let senders: Array<WireLike | undefined>;
    try {
      senders = blockSink().complete(piece);
      file.flush(); // the worker reads the piece back from the file
      hex = await checker.sha1Piece(index, self._hashes[index] ?? '');
    } catch (hashErr) {
      self._destroy(hashErr);
      return;
    }
    if (self.destroyed || piece !== self.pieces[index]) return;

    if (hex === self._hashes[index]) {
      self._debug('piece verified %s', index);
      self.pieces[index] = null;
      self._markVerified(index);
      for (const w of self.wires) w.have(index);
      self._checkDone();
      onUpdateTick();
      return;
    }
    // The failed data is read back once (rare) for the ban logic, which hashes its blocks now.
    let data: Uint8Array;
    try {
      data = file.read(index * self.pieceLength, piece.length);
    } catch (readErr) {
      self._destroy(readErr);
      return;
    }
    self.emit(FAILED_PIECE_EVENT, failedPiece(index, data, senders));
    const PieceCtor = piece.constructor as new (length: number) => PieceLike;
    self.pieces[index] = new PieceCtor(piece.length);
    self.emit('warning', new Error(`Piece ${index} failed verification`));
    onUpdateTick();
  };

  self._request = function request(wire: WireLike, index: number, hotswap: boolean): boolean {
    const numRequests = wire.requests.length;
    const isWebSeed = wire.type === 'webSeed';

    if (self.bitfield.get(index)) return false;

    const maxOutstandingRequests = isWebSeed
      ? Math.min(getPiecePipelineLength(wire, PIPELINE_MAX_DURATION, self.pieceLength), self.maxWebConns)
      : getBlockPipelineLength(wire, PIPELINE_MAX_DURATION);

    if (numRequests >= maxOutstandingRequests) return false;

    const piece = self.pieces[index];
    if (!piece) return false;
    let reservation = isWebSeed ? piece.reserveRemaining() : piece.reserve();

    if (reservation === -1 && hotswap && self._hotswap(wire, index)) {
      reservation = isWebSeed ? piece.reserveRemaining() : piece.reserve();
    }
    if (reservation === -1) return false;

    let r = self._reservations[index];
    if (!r) {
      r = [];
      self._reservations[index] = r;
    }
    const reservations = r;
    let i = reservations.indexOf(null);
    if (i === -1) i = reservations.length;
    reservations[i] = wire;

    const chunkOffset = piece.chunkOffset(reservation);
    const chunkLength = isWebSeed ? piece.chunkLengthRemaining(reservation) : piece.chunkLength(reservation);

    const onChunk = (err: Error | null, chunk: Uint8Array): void => {
      if (self.destroyed) return;
      if (!self.ready) {
        const copy = chunk ? chunk.slice() : chunk; // kept past this callback: see `place`
        self.once('ready', () => onChunk(err, copy));
        return;
      }
      if (reservations[i] === wire) reservations[i] = null;
      if (piece !== self.pieces[index]) {
        onUpdateTick();
        return;
      }

      if (err) {
        self._debug(
          'error getting piece %s (offset: %s length: %s) from %s: %s',
          index,
          chunkOffset,
          chunkLength,
          `${wire.remoteAddress}:${wire.remotePort}`,
          err.message,
        );
        if (isWebSeed) piece.cancelRemaining(reservation);
        else piece.cancel(reservation);
        onUpdateTick();
        return;
      }

      let kept: Uint8Array;
      try {
        kept = blockSink().place(piece, index, reservation, chunk, wire);
      } catch (writeErr) {
        self._destroy(writeErr); // e.g. ENOSPC: the engine reports DISK_FULL
        return;
      }
      if (piece.set(reservation, kept, wire as unknown as Wire)) void verify(piece, index);
      else onUpdateTick();
    };

    wire.request(index, chunkOffset, chunkLength, onChunk);
    return true;
  };
  return true;
}
