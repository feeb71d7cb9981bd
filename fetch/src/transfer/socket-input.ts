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

import type { Torrent, Wire } from 'webtorrent';
import { wireInput } from './wire-parser.js';

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

function install(peer: PeerLike, throttle: ThrottleLike, wire: Wire, observe?: ReadObserver): boolean {
  const input = wireInput(wire);
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
  throttle.write = (chunk: Uint8Array): boolean => {
    if (pipesEmpty && !throttle._areBothEnabled() && input.plain()) {
      // What the counting transform does: count, and drop reads of a closed peer.
      if (peer.destroyed || stream.destroyed || stream.destroying) return true;
      peer.emit('download', chunk.length);
      observe?.('direct', chunk.length);
      try {
        input.parse(chunk);
      } catch (err) {
        stream.destroy(err instanceof Error ? err : new Error(String(err)));
      }
      return true;
    }
    pipesEmpty = false;
    inPipes = chunk;
    observe?.('streams', chunk.length);
    return streamWrite(chunk);
  };
  return true;
}

/** Feeds socket reads to the wire parsers directly while no download limit is on (see above). */
export function readSocketsDirectly(torrent: Torrent, observe?: ReadObserver): void {
  torrent.on('wire', (wire: Wire) => {
    if (wire.type === 'webSeed') return;
    const peer = peerOf(torrent, wire);
    const throttle = peer && downloadThrottle(peer);
    if (peer && throttle) install(peer, throttle, wire, observe);
  });
}
