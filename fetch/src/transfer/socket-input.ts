// Socket reads straight to the wire's parser. webtorrent pipes every peer connection through
// three streamx stages before bittorrent-protocol sees a byte (lib/peer.js
// `setThrottlePipes`): socket → download throttle (speed-limiter, an async transform even
// when no limit is set) → a transform that counts the bytes (the peer's `download` event) →
// the wire. Each socket read (≤ 64 KiB, ~16,000 per GiB) thus takes three queue hops,
// nextTicks and a promise: ~1 s of the main thread per GiB (perf, README "Benchmark"), as
// much as parsing the messages and writing the blocks.
//
// While the client has no download limit, each read is handed to the wire's parser
// (wire-parser.ts) from the socket's own `data` callback, and the `download` event is
// emitted as the counting transform does. The pipes stay connected: with a limit on
// (`throttleDownload`, at run time) reads go the stream way again and are throttled as
// before. Order is what must not break when switching: a read may be handed on directly
// only when nothing is still travelling through the pipes. The stages pass an unthrottled
// chunk on as the same object, in order, so the last chunk sent the stream way reaching
// the wire means the pipes are empty; until it does (and while a limit is on, since the
// throttle slices chunks) reads keep going the stream way.
//
// One read buffer per connection (`readBufferBytes`). Otherwise node allocates a new one for
// every read (a backing store, an ArrayBuffer and a Buffer, external memory V8 accounts and
// collects), and reads at most 64 KiB at a time. node's `onread: { buffer, callback }`
// option of client sockets does this; for a socket that already exists (webtorrent's
// outgoing and accepted connections alike) the same is set up as node's `initSocketHandle`
// does, through the socket's own `kBuffer` / `kBufferCb` symbols and the handle's
// `useUserBuffer` — only when all of them are found (else reads stay node's). node then no
// longer pushes reads into the socket stream but hands them to the callback, in the read
// buffer, which the next read overwrites. A read that may go directly (as above, and the
// socket stream flowing with nothing buffered) is parsed from the buffer: wire-parser.ts
// copies whatever must outlive the parse. Any other read is copied and pushed into the
// socket stream, where it takes the stream way as node's own reads do (and node's
// backpressure applies: a full stream stops the handle). Such sockets emit no `data` event
// for direct reads: read-batching.ts listens to SOCKET_READ_EVENT too.

import type { Torrent, Wire } from 'webtorrent';
import { type WireInput, wireInput } from './wire-parser.js';

/** Emitted by a socket with its own read buffer for each read parsed directly (its size). */
export const SOCKET_READ_EVENT = 'tsw:read';

export interface SocketInputOptions {
  /** size of each connection's reused read buffer; 0: node's reads (a new buffer each) */
  readBufferBytes: number;
}

export const defaultSocketInput: SocketInputOptions = { readBufferBytes: 1024 * 1024 };

interface ThrottleLike {
  write(chunk: Uint8Array): boolean;
  _areBothEnabled(): boolean;
}

export interface PeerLike {
  wire?: unknown;
  conn?: { _readableState?: { pipes?: unknown[] } };
  destroyed: boolean;
  emit(event: 'download', bytes: number): boolean;
}

interface StreamLike {
  destroyed: boolean;
  destroying?: boolean;
  destroy(err?: Error): void;
}

function isThrottle(x: unknown): x is ThrottleLike {
  const t = x as Partial<ThrottleLike> | undefined;
  return typeof t?.write === 'function' && typeof t._areBothEnabled === 'function';
}

/** The connection's download throttle: the one stream the socket is piped into. */
function downloadThrottle(peer: PeerLike): ThrottleLike | undefined {
  const pipes = peer.conn?._readableState?.pipes;
  if (!Array.isArray(pipes) || pipes.length !== 1) return undefined;
  return isThrottle(pipes[0]) ? pipes[0] : undefined;
}

/** The webtorrent peer (its connection, its wire) a wire belongs to. */
export function peerOf(torrent: Torrent, wire: Wire): PeerLike | undefined {
  const peers = (torrent as unknown as { _peers?: Map<string, PeerLike> })._peers;
  if (!peers) return undefined;
  for (const peer of peers.values()) if (peer.wire === wire) return peer;
  return undefined;
}

/** Tests watch which way each read went. */
export type ReadObserver = (way: 'direct' | 'streams', bytes: number) => void;

interface SocketInternals {
  _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } | null;
  destroyed: boolean;
  readableFlowing: boolean | null;
  readableLength: number;
  push(chunk: Uint8Array): boolean;
  emit(event: string, ...args: unknown[]): boolean;
}

function ownSymbol(target: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(target).find((s) => s.description === description);
}

/**
 * Makes node read `socket` into one buffer of `size` bytes, handing each read to `onRead`
 * (a view, valid until it returns; false stops reading, as a full stream does). Returns
 * false, changing nothing, where node's internals are not as expected.
 */
export function readIntoOwnBuffer(
  socket: unknown,
  size: number,
  onRead: (read: Uint8Array) => boolean,
): boolean {
  if (typeof socket !== 'object' || socket === null) return false;
  const kBuffer = ownSymbol(socket, 'kBuffer');
  const kBufferCb = ownSymbol(socket, 'kBufferCb');
  const kBufferGen = ownSymbol(socket, 'kBufferGen');
  if (!kBuffer || !kBufferCb || !kBufferGen) return false;
  const slots = socket as Record<symbol, unknown>;
  // kBufferGen stays empty: node fills it only for `onread.buffer` given as a function,
  // and reads into kBuffer when it holds a buffer instead.
  if (slots[kBuffer] != null || slots[kBufferCb] != null || slots[kBufferGen] != null) return false;
  const s = socket as SocketInternals;
  const handle = s._handle;
  if (s.destroyed || typeof handle?.useUserBuffer !== 'function') return false;
  const buffer = new Uint8Array(size);
  slots[kBufferCb] = (nread: number, into: Uint8Array) => onRead(into.subarray(0, nread));
  slots[kBuffer] = buffer;
  handle.useUserBuffer(buffer);
  return true;
}

function install(
  peer: PeerLike,
  throttle: ThrottleLike,
  wire: Wire,
  options: SocketInputOptions,
  observe?: ReadObserver,
): boolean {
  const input: WireInput | undefined = wireInput(wire);
  if (!input) return false;
  const stream = wire as unknown as StreamLike;
  const streamWrite = throttle.write.bind(throttle);
  /** the last chunk sent the stream way, until it reaches the wire */
  let inPipes: Uint8Array | undefined;
  /** nothing is travelling through the pipes (unknown at first: data may be queued) */
  let pipesEmpty = false;

  input.onWrite = (data) => {
    if (data === inPipes) {
      inPipes = undefined;
      pipesEmpty = true;
    }
  };
  const direct = (): boolean => pipesEmpty && !throttle._areBothEnabled() && input.plain();
  const parse = (chunk: Uint8Array, reused: boolean): void => {
    // What the counting transform does: count, and drop reads of a closed peer.
    if (peer.destroyed || stream.destroyed || stream.destroying) return;
    peer.emit('download', chunk.length);
    observe?.('direct', chunk.length);
    try {
      input.parse(chunk, reused);
    } catch (err) {
      stream.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  };
  throttle.write = (chunk: Uint8Array): boolean => {
    if (direct()) {
      parse(chunk, false);
      return true;
    }
    pipesEmpty = false;
    inPipes = chunk;
    observe?.('streams', chunk.length);
    return streamWrite(chunk);
  };
  if (options.readBufferBytes > 0) {
    const socket = peer.conn as unknown as SocketInternals;
    readIntoOwnBuffer(socket, options.readBufferBytes, (read) => {
      // Directly only if no earlier read waits in the socket stream (paused, or not drained).
      if (socket.readableFlowing === true && socket.readableLength === 0 && direct()) {
        parse(read, true);
        socket.emit(SOCKET_READ_EVENT, read.length);
        return true;
      }
      return socket.push(Buffer.from(read)); // a copy: the buffer is read into again
    });
  }
  return true;
}

/** Feeds socket reads to the wire parsers directly while no download limit is on (see above). */
export function readSocketsDirectly(
  torrent: Torrent,
  observe?: ReadObserver,
  options: SocketInputOptions = defaultSocketInput,
): void {
  torrent.on('wire', (wire: Wire) => {
    if (wire.type === 'webSeed') return;
    const peer = peerOf(torrent, wire);
    const throttle = peer && downloadThrottle(peer);
    if (peer && throttle) install(peer, throttle, wire, options, observe);
  });
}
