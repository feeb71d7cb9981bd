// Webtorrent's piece receive path, made cheaper. webtorrent hashes each completed piece
// synchronously inside `Torrent#_request` (lib/torrent.js, through uint8-util's `hash`),
// which has no hook; at ~1 GB/s per core that is ~1 s of main-thread time per GiB, during
// which no socket is read. This replaces `_request` on each torrent instance with a copy of
// webtorrent 3.0.21's (MIT, WebTorrent LLC) that differs in three ways:
//   - the assembled piece (in a shared buffer) is hashed in a worker thread (hash-worker.ts);
//   - blocks are copied into a pooled piece buffer as they arrive (PieceAssembler), instead
//     of keeping the socket reads and concatenating them into a new buffer per piece;
//   - while `maxPendingWrites` verified pieces wait for the disk, no blocks are requested;
//   - the request rounds queued by the blocks of one socket read are merged into one.
//   - a piece that fails its hash is handed to peer-bans.ts (FAILED_PIECE_EVENT) with the
//     peer that sent each block, so the ban logic needs to keep no received data itself.
// Everything else — reservations, hotswap, the `Piece N failed verification` warning,
// store.put before `_markVerified` — is unchanged.
//
// The copy is tied to one webtorrent version: the original method's source is fingerprinted
// and, if it differs (webtorrent upgraded), nothing is replaced, webtorrent's own path stays
// in place and the engine logs a warning.

import { createHash } from 'node:crypto';
import type { Torrent, Wire } from 'webtorrent';
import type { HashWorker } from './hash-worker.js';
import { FAILED_PIECE_EVENT, type FailedPiece } from './peer-bans.js';

/** sha256 of `Torrent.prototype._request.toString()` in webtorrent 3.0.21 */
const REQUEST_FINGERPRINT = 'a4e6156ed3a523b220300908bc3566d5364a9c500f7553de1f43b00c599630d3';

const BLOCK_LENGTH = 1 << 14;
const PIPELINE_MAX_DURATION = 1;

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
  store: { put(index: number, buf: Uint8Array, cb: (err?: Error | null) => void): void };
  _request(wire: WireLike, index: number, hotswap: boolean): boolean;
  _updateWire(wire: WireLike): void;
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

/**
 * Reusable piece-sized buffers. webtorrent allocates a fresh buffer for every completed piece
 * (1 GiB of short-lived 4 MiB ArrayBuffers per GiB), which V8 frees only at its next full GC:
 * RSS carried tens of MB of dead pieces and the allocations kept triggering GCs. The pool
 * keeps up to `maxPerSize` free buffers per size: sized to the pieces in use at once
 * (assembling, hashing, waiting for the disk), so that a buffer is hardly ever dropped to the
 * GC — a dropped one stays resident until a full GC while new ones are allocated. A buffer
 * goes back to the pool once the store has written it (or its hash failed). It is safe to
 * reuse then: the only holder, immediate-chunk-store, drops it when the write completes, and
 * every partial read it serves in between is a copy (`Uint8Array#slice`).
 */
export class PieceBufferPool {
  private readonly free = new Map<number, Uint8Array[]>();

  constructor(private readonly maxPerSize: number) {}

  /** A free buffer of `length` bytes; new ones are SharedArrayBuffers (see hash-worker.ts). */
  take(length: number): Uint8Array {
    return this.free.get(length)?.pop() ?? new Uint8Array(new SharedArrayBuffer(length));
  }

  give(buf: Uint8Array): void {
    // Only buffers that own their memory are pooled (views never are handed out here).
    if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength) return;
    const list = this.free.get(buf.byteLength) ?? [];
    this.free.set(buf.byteLength, list);
    if (list.length < this.maxPerSize) list.push(buf);
  }
}

/**
 * Blocks are copied into the piece's pooled buffer as they arrive, and torrent-piece keeps a
 * view of that buffer instead of the received chunk, so a half-received piece holds exactly
 * its own bytes (not the 64 KiB socket reads its blocks came in), the socket reads die young,
 * and the complete piece needs no concatenation. A block already received (duplicate in
 * end-game) is not copied again.
 */
class PieceAssembler {
  private readonly buffers = new WeakMap<PieceLike, Uint8Array>();
  /** the peer whose data each block of the piece holds (torrent-piece keeps the first copy) */
  private readonly senders = new WeakMap<PieceLike, Array<WireLike | undefined>>();

  constructor(private readonly pool: PieceBufferPool) {}

  /**
   * Copies a single-block chunk into place; returns what torrent-piece should keep. A block
   * from a wire is never kept itself: wire-parser.ts parses blocks that straddle socket reads
   * in one reused buffer, which must be free again when the chunk callback returns.
   */
  place(
    piece: PieceLike,
    reservation: number,
    chunk: Uint8Array,
    offset: number,
    wire: WireLike,
  ): Uint8Array {
    if (piece._buffer) {
      let senders = this.senders.get(piece);
      if (!senders) {
        senders = [];
        this.senders.set(piece, senders);
      }
      const blocks = Math.ceil(chunk.length / BLOCK_LENGTH);
      for (let j = reservation; j < reservation + blocks; j++) if (!piece._buffer[j]) senders[j] = wire;
    }
    // Web-seed chunks (several blocks) are buffers of their own; keep them as received.
    if (chunk.length > BLOCK_LENGTH) return chunk;
    // A duplicate block: torrent-piece keeps the first copy and ignores this one.
    if (piece._buffer?.[reservation]) return chunk;
    // Never the case after `reserve()`; a copy, as a wire's chunk is not kept (see `place`'s doc).
    if (!piece._buffer) return chunk.slice();
    let buf = this.buffers.get(piece);
    if (!buf) {
      buf = this.pool.take(piece.length);
      this.buffers.set(piece, buf);
    }
    if (offset + chunk.length > buf.length) return chunk.slice();
    buf.set(chunk, offset);
    return buf.subarray(offset, offset + chunk.length);
  }

  /** torrent-piece's `flush()`: the piece's buffer with every block in place, and who sent each block. */
  flush(piece: PieceLike): { buf: Uint8Array; senders: Array<WireLike | undefined> } {
    const blocks = piece._buffer;
    if (!blocks || piece._chunks !== piece._buffered) throw new Error('piece flushed before it was complete');
    const buf = this.buffers.get(piece) ?? this.pool.take(piece.length);
    const senders = this.senders.get(piece) ?? [];
    this.buffers.delete(piece);
    this.senders.delete(piece);
    for (let j = 0; j < blocks.length; j++) {
      const block = blocks[j];
      if (!block) throw new Error('piece flushed with a missing block');
      const offset = j * BLOCK_LENGTH;
      // Web-seed chunks (several blocks) are kept as received and copied here.
      if (block.buffer !== buf.buffer || block.byteOffset !== offset) buf.set(block, offset);
    }
    piece._buffer = null;
    piece._cancellations = null;
    piece.sources = null;
    piece._flushed = true;
    return { buf, senders };
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

/** Returns whether webtorrent's `_request` was replaced (false: unknown webtorrent version). */
export function offloadPieceHashing(
  torrent: Torrent,
  hashing: HashWorker,
  pool: PieceBufferPool,
  opts: { maxPendingWrites: number },
): boolean {
  const self = torrent as unknown as TorrentInternals;
  const original = Object.getPrototypeOf(self)._request as (...args: unknown[]) => boolean;
  const fingerprint = createHash('sha256').update(original.toString()).digest('hex');
  if (fingerprint !== REQUEST_FINGERPRINT) return false;
  const assembler = new PieceAssembler(pool);

  // Back-pressure: verified pieces wait in memory until the store has written them; while
  // `maxPendingWrites` are waiting (slow or throttled disk), no new blocks are requested.
  // Each completed write re-runs webtorrent's request round (onUpdateTick below).
  let pendingWrites = 0;
  const updateWire = self._updateWire.bind(self);
  self._updateWire = (wire: WireLike): void => {
    if (pendingWrites >= opts.maxPendingWrites && wire.type !== 'webSeed') return;
    updateWire(wire);
  };

  // webtorrent queues one request round (`_update`, over every wire) per received block; the
  // blocks of one socket read are parsed in one go, so the rounds are merged: one per batch.
  let updateQueued = false;
  const onUpdateTick = (): void => {
    if (updateQueued) return;
    updateQueued = true;
    queueMicrotask(() => {
      updateQueued = false;
      self._update();
    });
  };

  // The complete piece: SHA-1 in the worker, then written, then marked verified.
  const verifyAndStore = async (piece: PieceLike, index: number): Promise<void> => {
    let verified: { hex: string; buf: Uint8Array };
    let senders: Array<WireLike | undefined>;
    try {
      const flushed = assembler.flush(piece);
      senders = flushed.senders;
      verified = await hashing.sha1(flushed.buf);
    } catch (hashErr) {
      self._destroy(hashErr);
      return;
    }
    if (self.destroyed) return;
    const buf = verified.buf;

    if (verified.hex === self._hashes[index]) {
      self._debug('piece verified %s', index);
      pendingWrites++;
      self.store.put(index, buf, (putErr) => {
        pendingWrites--;
        if (putErr) {
          self._destroy(putErr);
          return;
        }
        pool.give(buf);
        self.pieces[index] = null;
        self._markVerified(index);
        for (const w of self.wires) w.have(index);
        self._checkDone();
        onUpdateTick();
      });
    } else {
      // Handed over before the buffer goes back to the pool: the ban logic hashes the blocks now.
      self.emit(FAILED_PIECE_EVENT, failedPiece(index, buf, senders));
      pool.give(buf);
      const PieceCtor = piece.constructor as new (length: number) => PieceLike;
      self.pieces[index] = new PieceCtor(piece.length);
      self.emit('warning', new Error(`Piece ${index} failed verification`));
      onUpdateTick();
    }
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

      const kept = assembler.place(piece, reservation, chunk, chunkOffset, wire);
      if (piece.set(reservation, kept, wire as unknown as Wire)) void verifyAndStore(piece, index);
      else onUpdateTick();
    };

    wire.request(index, chunkOffset, chunkLength, onChunk);
    return true;
  };
  return true;
}
