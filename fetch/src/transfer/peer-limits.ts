// Per-torrent peer limits that webtorrent does not enforce by itself: its maxConns counts
// only outgoing dials, and it unchokes every peer on its first `interested` until the next
// 10 s rechoke. Both caps are checked synchronously on every wire so they never leak.

import type { Torrent, Wire } from 'webtorrent';

export interface PeerLimits {
  maxConnsPerTorrent: number;
  uploadSlots: number;
}

/** Peaks since the torrent was added, so tests and metrics can prove the caps held. */
export interface PeerLimitCounters {
  peakConns: number;
  peakUnchoked: number;
  refusedConns: number;
}

function isPeerWire(wire: Wire): boolean {
  return wire.type !== 'webSeed' && !wire.destroyed;
}

/** The torrent's open connections to BitTorrent peers (web seeds left out). */
export function peerWires(torrent: Torrent): Wire[] {
  return torrent.wires.filter(isPeerWire);
}

export function countConns(torrent: Torrent): number {
  return peerWires(torrent).length;
}

export function countUnchoked(torrent: Torrent): number {
  return peerWires(torrent).filter((w) => !w.amChoking).length;
}

/** Applies both caps to a torrent; call once right after it is added. */
export function enforcePeerLimits(torrent: Torrent, limits: PeerLimits): PeerLimitCounters {
  const counters: PeerLimitCounters = { peakConns: 0, peakUnchoked: 0, refusedConns: 0 };

  // Re-offers a freed upload slot once the current synchronous (re)choke pass is over.
  const refill = (): void => {
    queueMicrotask(() => {
      if (torrent.destroyed) return;
      for (const wire of torrent.wires) {
        if (countUnchoked(torrent) >= limits.uploadSlots) return;
        if (isPeerWire(wire) && wire.amChoking && wire.peerInterested && !wire.isSeeder) wire.unchoke();
      }
    });
  };

  torrent.on('wire', (wire: Wire) => {
    if (wire.type === 'webSeed') return;
    // The new wire is already in torrent.wires, so it is counted here.
    if (countConns(torrent) > limits.maxConnsPerTorrent) {
      counters.refusedConns += 1;
      wire.destroy();
      return;
    }
    counters.peakConns = Math.max(counters.peakConns, countConns(torrent));

    const unchoke = wire.unchoke.bind(wire);
    const choke = wire.choke.bind(wire);
    wire.unchoke = () => {
      if (!wire.amChoking) return;
      // An uninterested peer would hold a slot without downloading anything.
      if (!wire.peerInterested || countUnchoked(torrent) >= limits.uploadSlots) return;
      unchoke();
      counters.peakUnchoked = Math.max(counters.peakUnchoked, countUnchoked(torrent));
    };
    wire.choke = () => {
      const wasUnchoked = !wire.amChoking;
      choke();
      if (wasUnchoked) refill();
    };
    wire.on('uninterested', () => wire.choke());
    // webtorrent unchokes only on a peer's first `interested`; a peer interested again (it
    // learnt of a new piece after we choked it for losing interest) would wait for the next
    // 10 s rechoke.
    wire.on('interested', () => wire.unchoke());
    wire.once('close', refill);
  });

  return counters;
}
