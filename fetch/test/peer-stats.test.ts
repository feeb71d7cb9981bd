// peerStats' piece counts, on the fields webtorrent keeps (a torrent's bitfield and pieces, a
// wire's peerPieces and request lists): what a peer holds that we lack, and how much of that a
// request could still take (pieces not yet fully asked for from some peer).

import { describe, expect, it } from 'vitest';
import type { Torrent } from 'webtorrent';
import { peerStats } from '../src/transfer/peer-stats.js';

const bits = (set: number[]) => ({ get: (i: number) => set.includes(i) });
const piece = (reserved: number, chunks = 16) => ({
  _flushed: false,
  _chunks: chunks,
  _reservations: reserved,
  _cancellations: null,
});
const wire = (address: string, pieces: number[]) => ({
  type: 'tcpOutgoing',
  destroyed: false,
  remoteAddress: address,
  remotePort: 6881,
  peerPieces: bits(pieces),
  amChoking: true,
  amInterested: true,
  peerChoking: false,
  peerInterested: false,
  requests: [],
  peerRequests: [],
  downloadSpeed: () => 0,
  uploadSpeed: () => 0,
});

describe('peerStats', () => {
  it('counts the pieces a peer holds that we lack, and those with blocks nobody was asked for', () => {
    // we hold piece 0; piece 1 is fully requested elsewhere, piece 2 half, piece 3 not started
    const torrent = {
      pieces: [null, piece(16), piece(8), piece(0)],
      bitfield: bits([0]),
      wires: [
        wire('10.0.0.2', [0, 1, 2, 3]),
        wire('10.0.0.3', [0, 1]),
        { ...wire('x', [3]), destroyed: true },
      ],
    } as unknown as Torrent;
    const stats = peerStats(torrent);
    expect(stats.map((s) => [s.address, s.progress, s.piecesWanted, s.piecesRequestable])).toEqual([
      ['10.0.0.2:6881', 1, 3, 2],
      ['10.0.0.3:6881', 0.5, 1, 0],
    ]);
  });
});
