// Blocks straight to the socket, and a bound on what a peer can make us buffer.
//
// The upload side of webtorrent's pipes (lib/peer.js `setThrottlePipes`) has the same three
// streamx stages as the download side (socket-input.ts): wire → upload throttle (an async
// transform even when no limit is set) → a transform that counts the bytes (the peer's
// `upload` event, which feeds the torrent's `uploaded` and upload speed) → socket. Each
// message batch wire-writer.ts pushes takes three queue hops, nextTicks and a promise, and
// wire-writer.ts first copies the batch into one buffer so that it travels as one chunk.
//
// While the client has no upload limit and the wire is plain (no protocol encryption), a
// batch goes from wire-writer.ts to the socket as its parts, under `cork`, so that they
// leave in one `writev` without being copied (`writeParts`); anything else the wire pushes
// goes straight to `socket.write` too. Each direct write is counted as the transform counts:
// the peer's `upload` event. The pipes stay connected: with a limit on (also one set at run
// time) the wire's output goes the stream way and is throttled as before. As on the input
// side, a write may bypass the pipes only when nothing is still travelling through them: the
// stages pass an unthrottled chunk on as the same object, so the last chunk sent the stream
// way reaching `socket.write` proves them empty; until it does (and while a limit is on,
// since the throttle slices chunks) the output keeps going the stream way.
//
// Backpressure. bittorrent-protocol answers every request as soon as the block is read and
// ignores what `push` returns, so webtorrent buffers whatever a peer asks for: a peer that
// asks for blocks and does not read them makes the wire's stream buffer grow without bound
// (and direct writes would make the socket's buffer grow the same way). Here the reading of
// blocks for a peer is held back while what is buffered for it — bytes still in the pipes,
// bytes in the socket's own buffer, blocks being read from the store — reaches
// `maxBufferedBytes`; held reads start again as the socket drains (`drain`, or a chunk
// leaving the pipes for the socket, or a read completing). Only the store read is held: the
// request is registered on the wire as before (the choker and the status API see it, a
// cancel or a choke removes it, and a removed request is then not read at all).

import type { Torrent, Wire } from 'webtorrent';
import { isLentView, returnView } from './file-chunk-store.js';

/** What may be buffered for one peer before reading more blocks for it waits. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1 << 20;

interface SocketLike {
  write(chunk: Uint8Array, ...rest: unknown[]): boolean;
  cork(): void;
  uncork(): void;
  writableLength: number;
  writableHighWaterMark: number;
  destroyed: boolean;
  on(event: 'drain' | 'close', listener: () => void): unknown;
}

interface PeerLike {
  wire?: unknown;
  conn?: unknown;
  destroyed: boolean;
  emit(event: 'upload', bytes: number): boolean;
}

interface ThrottleLike {
  _areBothEnabled(): boolean;
}

interface WireInternals {
  push(data: Uint8Array | null): boolean;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  once(event: 'close', listener: () => void): unknown;
  _readableState?: { pipeTo?: unknown };
  _encryptor?: unknown;
  _finished?: boolean;
  destroyed?: boolean;
  peerRequests: Array<{ piece: number; offset: number; length: number }>;
}

type GetCallback = (err: Error | null, buffer?: Uint8Array) => void;

interface StoreLike {
  get(index: number, opts: unknown, cb?: GetCallback): void;
}

function isSocket(x: unknown): x is SocketLike {
  const s = x as Partial<SocketLike> | undefined;
  return (
    typeof s?.write === 'function' &&
    typeof s.cork === 'function' &&
    typeof s.uncork === 'function' &&
    typeof s.writableLength === 'number' &&
    typeof s.on === 'function'
  );
}

function isThrottle(x: unknown): x is ThrottleLike {
  return typeof (x as Partial<ThrottleLike> | undefined)?._areBothEnabled === 'function';
}

function peerOf(torrent: Torrent, wire: Wire): PeerLike | undefined {
  const peers = (torrent as unknown as { _peers?: Map<string, PeerLike> })._peers;
  if (!peers) return undefined;
  for (const peer of peers.values()) if (peer.wire === wire) return peer;
  return undefined;
}

/** Tests watch which way each write went. */
export type WriteObserver = (way: 'direct' | 'streams', bytes: number) => void;

/** For wire-writer.ts: writes a batch of messages to the socket as they are, when it may. */
export interface WireOutput {
  /** false: the direct way is closed now, push the batch the stream way */
  writeParts(parts: Uint8Array[], bytes: number): boolean;
}

const outputs = new WeakMap<object, WireOutput>();

/** The direct output writeSocketsDirectly installed on `wire`, if any. */
export function wireOutput(wire: object): WireOutput | undefined {
  return outputs.get(wire);
}

/** One peer's output: the bypass and the read gate. */
interface PeerOutput {
  /** Reads a requested block now, or when what is buffered for the peer allows. */
  read(
    index: number,
    offset: number,
    length: number,
    start: (cb: GetCallback) => void,
    cb: GetCallback,
  ): void;
}

export interface SocketOutputOptions {
  /** default DEFAULT_MAX_BUFFERED_BYTES; at least twice the socket's high-water mark */
  maxBufferedBytes?: number;
  observe?: WriteObserver;
}

function install(
  peer: PeerLike,
  conn: SocketLike,
  throttle: ThrottleLike,
  wire: WireInternals,
  options: SocketOutputOptions,
): PeerOutput {
  const observe = options.observe;
  const limit = Math.max(
    options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    2 * (conn.writableHighWaterMark || 0),
  );
  const streamPush = wire.push.bind(wire);
  const socketWrite = conn.write.bind(conn);
  /** the last chunk sent the stream way, until it reaches the socket */
  let inPipes: Uint8Array | undefined;
  /** nothing is travelling through the pipes (unknown at first: the handshake may be in them) */
  let pipesEmpty = false;
  /** bytes sent the stream way that have not reached the socket yet */
  let inPipesBytes = 0;
  /** bytes of blocks being read from the store for this peer */
  let reading = 0;
  const held: Array<() => void> = [];

  const buffered = (): number => inPipesBytes + conn.writableLength + reading;
  const release = (): void => {
    while (held.length > 0 && buffered() < limit) (held.shift() as () => void)();
  };
  const closed = (): boolean => peer.destroyed || conn.destroyed || wire.destroyed === true;
  const directOpen = (): boolean => pipesEmpty && !throttle._areBothEnabled() && !wire._encryptor;

  conn.on('drain', release);
  wire.once('close', () => {
    held.length = 0;
  });

  // Everything the pipes deliver passes here: the last chunk sent their way arriving means
  // they are empty.
  conn.write = (chunk: Uint8Array, ...rest: unknown[]): boolean => {
    if (chunk === inPipes) {
      inPipes = undefined;
      pipesEmpty = true;
    }
    inPipesBytes = Math.max(0, inPipesBytes - (chunk?.length ?? 0));
    const ok = socketWrite(chunk, ...rest);
    release();
    return ok;
  };

  // A block lent by the chunk store goes back to it once the socket has written it (the
  // write's callback, also called when the write failed or the socket was destroyed: either
  // way the socket no longer holds it), so its buffer can be read into again.
  const writePart = (part: Uint8Array): void => {
    if (isLentView(part)) socketWrite(part, () => returnView(part));
    else socketWrite(part);
  };

  const writeDirect = (parts: Uint8Array[], bytes: number): void => {
    // What the counting transform does: count, and drop output for a closed peer.
    if (closed()) return;
    peer.emit('upload', bytes);
    observe?.('direct', bytes);
    if (parts.length === 1) {
      writePart(parts[0] as Uint8Array);
      return;
    }
    conn.cork();
    for (const part of parts) writePart(part);
    conn.uncork();
  };

  wire.push = (data: Uint8Array | null): boolean => {
    if (data === null) return streamPush(data);
    if (directOpen()) {
      writeDirect([data], data.length);
      return true;
    }
    pipesEmpty = false;
    inPipes = data;
    inPipesBytes += data.length;
    observe?.('streams', data.length);
    return streamPush(data);
  };

  outputs.set(wire, {
    writeParts(parts, bytes) {
      if (!directOpen()) return false;
      writeDirect(parts, bytes);
      return true;
    },
  });

  const stillRequested = (index: number, offset: number, length: number): boolean =>
    wire.peerRequests.some((r) => r.piece === index && r.offset === offset && r.length === length);

  return {
    read(index, offset, length, start, cb) {
      const go = (wasHeld: boolean): void => {
        // cancelled or choked while held: bittorrent-protocol would drop the block unsent
        if (wasHeld && (closed() || !stillRequested(index, offset, length))) return;
        reading += length;
        start((err, buffer) => {
          reading -= length;
          cb(err, buffer);
          // after wire-writer.ts has flushed what cb pushed
          queueMicrotask(release);
        });
      };
      if (held.length === 0 && buffered() < limit) go(false);
      else held.push(() => go(true));
    },
  };
}

/**
 * Writes each wire's output straight to its socket while no upload limit is on, and holds
 * back reading blocks for a peer while `maxBufferedBytes` are buffered for it (see above).
 */
export function writeSocketsDirectly(torrent: Torrent, options: SocketOutputOptions = {}): void {
  /** the peer whose `request` event is being emitted (the torrent's listener reads the block) */
  let requesting: PeerOutput | undefined;
  const gatedStores = new WeakSet<object>();

  const gateStore = (): void => {
    const store = (torrent as unknown as { store?: StoreLike | null }).store;
    if (!store || gatedStores.has(store)) return;
    gatedStores.add(store);
    const get = store.get.bind(store);
    store.get = (index, opts, cb) => {
      const out = requesting;
      const range = opts as { offset?: number; length?: number } | null;
      if (!out || typeof cb !== 'function' || typeof range?.length !== 'number') {
        get(index, opts, cb);
        return;
      }
      requesting = undefined;
      out.read(index, range.offset ?? 0, range.length, (done) => get(index, opts, done), cb);
    };
  };

  torrent.on('wire', (wire: Wire) => {
    if (wire.type === 'webSeed') return;
    const internals = wire as unknown as WireInternals;
    const peer = peerOf(torrent, wire);
    const conn = peer?.conn;
    const throttle = internals._readableState?.pipeTo;
    if (!peer || !isSocket(conn) || !isThrottle(throttle) || !Array.isArray(internals.peerRequests)) return;
    const out = install(peer, conn, throttle, internals, options);
    const emit = internals.emit.bind(internals);
    internals.emit = (event, ...args) => {
      if (event !== 'request') return emit(event, ...args);
      gateStore();
      const outer = requesting;
      requesting = out;
      try {
        return emit(event, ...args);
      } finally {
        requesting = outer;
      }
    };
  });
}
