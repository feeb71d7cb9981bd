// What an agent knows about each connected peer, for the status API and the swarm benchmark's
// timeline: who it is, how much it holds, who chokes whom, and the rates both ways.

import type { Torrent, Wire } from 'webtorrent';
import { peerWires } from './peer-limits.js';
import { hasUnrequestedBlocks, type PieceState } from './piece-picker.js';

/** Pieces the peer has announced (bitfield and HAVE messages). */
export function piecesHeld(wire: Wire, pieceCount: number): number {
  const pieces = (wire as unknown as WireRates).peerPieces;
  let n = 0;
  for (let i = 0; i < pieceCount; i++) if (pieces.get(i)) n++;
  return n;
}

export interface PeerStats {
  address: string;
  /** fraction of the torrent's pieces the peer holds */
  progress: number;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  downloadBytesPerSecond: number;
  uploadBytesPerSecond: number;
  /** block requests we sent the peer and it has not answered yet */
  requestsOut: number;
  /** block requests the peer sent us that we have not answered yet */
  requestsIn: number;
  /** pieces the peer holds that we lack */
  piecesWanted: number;
  /** of those, pieces with blocks nobody has been asked for yet: what a request could take */
  piecesRequestable: number;
}

/** The rate and count fields bittorrent-protocol keeps on every wire. */
interface WireRates {
  downloadSpeed(): number;
  uploadSpeed(): number;
  peerPieces: { get(index: number): boolean };
  remotePort?: number;
  requests: unknown[];
  peerRequests: unknown[];
}

export function peerStats(torrent: Torrent): PeerStats[] {
  const pieceCount = torrent.pieces?.length ?? 0;
  const pieces = torrent.pieces as unknown as Array<PieceState | null>;
  return peerWires(torrent).map((w) => {
    const r = w as unknown as WireRates;
    const held = piecesHeld(w, pieceCount);
    let wanted = 0;
    let requestable = 0;
    for (let i = 0; i < pieceCount; i++) {
      if (!r.peerPieces.get(i) || torrent.bitfield.get(i)) continue;
      wanted++;
      if (hasUnrequestedBlocks(pieces[i])) requestable++;
    }
    return {
      address: `${w.remoteAddress ?? '?'}:${r.remotePort ?? 0}`,
      progress: pieceCount ? held / pieceCount : 0,
      amChoking: w.amChoking,
      amInterested: w.amInterested,
      peerChoking: w.peerChoking,
      peerInterested: w.peerInterested,
      downloadBytesPerSecond: Math.round(r.downloadSpeed()),
      uploadBytesPerSecond: Math.round(r.uploadSpeed()),
      requestsOut: r.requests.length,
      requestsIn: r.peerRequests.length,
      piecesWanted: wanted,
      piecesRequestable: requestable,
    };
  });
}
