// Small socket reads, gathered. On a link slower than the machine (any real site network
// against a 2-core host of dozens of agents; every link of the swarm benchmark) segments
// arrive a few at a time and each wakes the socket: the agent then does a read, a buffer
// allocation, a `data` dispatch and a parse for every few KiB, and that per-read cost,
// not the bytes, is what its CPU goes to (test/README, swarm benchmark: at 50 and at
// 20 Mbit/s the agents used the same CPU per second, so at 20 more per byte).
//
// After a read shorter than `smallBytes`, the socket stops reading until the next batch
// tick, at most `intervalMs` later; the kernel keeps receiving (and acknowledging) into the
// socket buffer meanwhile, and the next read takes all of it. A fast link's reads are full
// (64 KiB) and are never held, so loopback and LAN transfers see no delay. The delay is
// far below what the request pipeline covers (256 blocks in flight per peer).
//
// 100 ms by default: in the swarm benchmark (50 Mbit/s links, 0.3-0.6 MB/s per connection)
// the agents' CPU fell by ~20 % from 10 to 40 ms and by ~10 % more each from 40 or 50 to
// 100 ms (in-round A/Bs, test/README "Session 9"), with the same completion times.
//
// Only slow sockets are held. A held socket moves at most what its peer has in flight per
// hold — its request pipeline (request-pipeline.ts: 256 blocks, 4 MiB) — so holding a fast one
// caps it: a seeder whose incoming requests (17-byte messages, every read short) were held
// 100 ms served one leecher at ≤ 42 MB/s on loopback, where it had served 100+ MB/s
// (node-agent README, session 10). A socket that moved more than `fastBytesPerSecond` (read
// plus written) over its last interval is therefore not held; every connection of the swarm
// benchmark (50 Mbit/s links: ≤ 6.25 MB/s) stays below the default, so this rule never
// applies there (the next one does).
//
// Only connections with work queued are held. A connection just unchoked has 2 requests in
// flight (webtorrent sizes the pipeline from a 5 s rate meter), and a seeder that holds the
// reads carrying a peer's next requests leaves that flow idle until the tick: 100 ms of
// nothing sent to that peer, on every round trip of a new flow. So a socket is held only
// while each direction that may carry blocks has ≥ 16 requests queued (`busyThroughHold`).
// Swarm benchmark, N = 16, three rounds each: 1.34, 1.33, 1.34 × S/B against 1.35, 1.36,
// 1.36 × holding every slow socket, links 74 / 78–79 % against 72–73 / 77–78 % (test/README,
// session 15).
//
// The socket's handle is stopped directly (`readStop`) and its `reading` flag left set, so
// node's stream does not start it again on its own (Socket#_read starts a handle whose flag
// is clear); node's own backpressure still works: a full stream buffer clears the flag and
// stops the handle itself, and such a socket is left to node. A socket read into its own
// buffer by socket-input.ts reports the reads it parses directly by SOCKET_READ_EVENT.

import type { Torrent, Wire } from 'webtorrent';
import { peerOf, SOCKET_READ_EVENT } from './socket-input.js';

interface HandleLike {
  reading: boolean;
  readStart(): number;
  readStop(): number;
}

interface SocketLike {
  _handle?: HandleLike | null;
  destroyed: boolean;
  bytesRead: number;
  bytesWritten: number;
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: typeof SOCKET_READ_EVENT, listener: (bytes: number) => void): unknown;
}

export interface ReadBatchingOptions {
  /** longest a socket with a short read waits before it reads again (0: never held) */
  intervalMs: number;
  /** reads shorter than this hold the socket */
  smallBytes: number;
  /** a socket that moved more than this (bytes read + written per second) is not held */
  fastBytesPerSecond: number;
}

export const defaultReadBatching: ReadBatchingOptions = {
  intervalMs: 100,
  smallBytes: 32 * 1024,
  fastBytesPerSecond: 8_000_000,
};

/** A socket's traffic at its last rate sample. */
interface RateSample {
  at: number;
  bytes: number;
  bytesPerSecond: number;
}

function isSocket(x: unknown): x is SocketLike {
  const s = x as Partial<SocketLike> | undefined;
  return typeof s?.on === 'function' && typeof s._handle?.readStop === 'function';
}

/** One per engine: every held socket of every torrent is released by one timer. */
export class ReadBatcher {
  private readonly held = new Set<SocketLike>();
  private readonly rates = new WeakMap<SocketLike, RateSample>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** how many times a socket was held (tests) */
  holds = 0;

  private readonly options: ReadBatchingOptions;

  constructor(options: Partial<ReadBatchingOptions> = {}) {
    this.options = { ...defaultReadBatching, ...options };
  }

  /** Holds `socket` after each short read, when `mayHold` says so at that moment. */
  attach(socket: unknown, mayHold: () => boolean = () => true): boolean {
    if (this.options.intervalMs <= 0 || !isSocket(socket)) return false;
    socket.on('data', (chunk: Uint8Array) => {
      if (chunk.length < this.options.smallBytes && mayHold()) this.hold(socket);
    });
    // the reads that socket-input.ts parses from a socket's own read buffer (no `data` event)
    socket.on(SOCKET_READ_EVENT, (bytes: number) => {
      if (bytes < this.options.smallBytes && mayHold()) this.hold(socket);
    });
    return true;
  }

  /** Batches the reads of every peer connection of `torrent`. */
  batchTorrent(torrent: Torrent): void {
    if (this.options.intervalMs <= 0) return;
    torrent.on('wire', (wire: Wire) => {
      if (wire.type !== 'webSeed') this.attach(peerOf(torrent, wire)?.conn, () => busyThroughHold(wire));
    });
  }

  private hold(socket: SocketLike): void {
    const handle = socket._handle;
    // not reading: node stopped it (backpressure) or it is closing; node will restart it
    if (this.closed || !handle?.reading || socket.destroyed || this.held.has(socket)) return;
    if (this.isFast(socket)) return;
    if (handle.readStop() !== 0) return;
    this.held.add(socket);
    this.holds++;
    this.timer ??= setTimeout(() => this.release(), this.options.intervalMs);
  }

  /** Whether the socket moved more than `fastBytesPerSecond` over its last interval (or more). */
  private isFast(socket: SocketLike): boolean {
    const now = performance.now();
    const bytes = (socket.bytesRead ?? 0) + (socket.bytesWritten ?? 0);
    const last = this.rates.get(socket);
    if (!last) {
      this.rates.set(socket, { at: now, bytes, bytesPerSecond: 0 });
      return false;
    }
    if (now - last.at >= this.options.intervalMs) {
      last.bytesPerSecond = ((bytes - last.bytes) * 1000) / (now - last.at);
      last.at = now;
      last.bytes = bytes;
    }
    return last.bytesPerSecond > this.options.fastBytesPerSecond;
  }

  private release(): void {
    this.timer = undefined;
    for (const socket of this.held) {
      const handle = socket._handle;
      // a flag cleared meanwhile means node took the handle over (it restarts it itself)
      if (handle?.reading && !socket.destroyed) handle.readStart();
    }
    this.held.clear();
  }

  /** Lets every held socket read again; none is held after this. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.release();
  }
}

/** Blocks queued each way (256 KiB) that keep a connection busy through a hold: ≥ 100 ms at 2.5 MB/s. */
export const HOLD_MIN_QUEUED_BLOCKS = 16;

/** The fields of a bittorrent-protocol Wire that say what is queued each way. */
export interface QueuedWork {
  /** our block requests the peer has not answered */
  requests: unknown[];
  /** the peer's block requests we have not answered */
  peerRequests: unknown[];
  peerChoking: boolean;
  amInterested: boolean;
  amChoking: boolean;
  peerInterested: boolean;
}

/**
 * Whether holding this connection's reads cannot starve it: each direction that may carry
 * blocks has at least HOLD_MIN_QUEUED_BLOCKS queued, so the sender has work until the hold ends.
 */
export function busyThroughHold(wire: unknown): boolean {
  const w = wire as QueuedWork;
  const downloading = !w.peerChoking && w.amInterested;
  const uploading = !w.amChoking && w.peerInterested;
  return (
    (!downloading || w.requests.length >= HOLD_MIN_QUEUED_BLOCKS) &&
    (!uploading || w.peerRequests.length >= HOLD_MIN_QUEUED_BLOCKS)
  );
}
