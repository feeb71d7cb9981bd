// Bounds the number of block requests in flight per peer. webtorrent sizes a wire's
// pipeline as one second of its measured download speed (at 140 MB/s on loopback: ~8,500
// requests of 16 KiB, i.e. 35 pieces of 4 MiB half-assembled in memory) and only honours a
// smaller `reqq` when the peer announces one. We lower the peer's announced `reqq` to
// `maxRequests`, which is the knob webtorrent reads on every request round. Memory in flight
// per peer is then ≤ maxRequests × 16 KiB, and webtorrent's linear scan of a wire's request
// list on every received block (`_pull`) stays short.

import type { Torrent, Wire } from 'webtorrent';

interface HandshakeHolder {
  peerExtendedHandshake?: { reqq?: unknown } | undefined;
}

function clamp(wire: Wire, maxRequests: number): void {
  const holder = wire as unknown as HandshakeHolder;
  const handshake = holder.peerExtendedHandshake ?? {};
  holder.peerExtendedHandshake = handshake;
  const reqq = handshake.reqq;
  handshake.reqq = typeof reqq === 'number' && reqq > 0 ? Math.min(reqq, maxRequests) : maxRequests;
}

export function limitRequestPipeline(torrent: Torrent, maxRequests: number): void {
  torrent.on('wire', (wire: Wire) => {
    if (wire.type === 'webSeed') return;
    clamp(wire, maxRequests);
    // The extended handshake replaces the object (and may carry the peer's own reqq).
    wire.on('extended', (ext: unknown) => {
      if (ext === 'handshake') clamp(wire, maxRequests);
    });
  });
}
