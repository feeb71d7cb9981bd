// How much of a seed's upload repeats blocks it has already sent to someone. For an origin
// (super-seed.ts) a repeat is link time not spent on a piece the swarm lacks; while the swarm
// lacks pieces it cannot go faster than the origin puts them in (test/README, "Session 13").
// Counted where webtorrent answers a request (`wire.piece`), per 16 KiB block: one bit each.

import type { Torrent, Wire } from 'webtorrent';

export interface UploadRepeats {
  /** bytes of answered blocks that had been answered before (to any peer) */
  repeatBytes: number;
}

const BLOCK_SHIFT = 14; // 16 KiB

interface PieceWire extends Wire {
  piece(index: number, offset: number, buffer: Uint8Array): void;
}

/** Counts the bytes of a torrent's repeated blocks from now on. */
export function countRepeatUploads(torrent: Torrent): UploadRepeats {
  const counts: UploadRepeats = { repeatBytes: 0 };
  const sent = new Map<number, Uint8Array>();
  torrent.on('wire', (wire: Wire) => {
    const w = wire as PieceWire;
    const answer = w.piece.bind(w);
    w.piece = (index, offset, buffer) => {
      const block = offset >> BLOCK_SHIFT;
      let bits = sent.get(index);
      if (!bits) {
        bits = new Uint8Array(((torrent.pieceLength >> BLOCK_SHIFT) >> 3) + 1);
        sent.set(index, bits);
      }
      const mask = 1 << (block & 7);
      if ((bits[block >> 3] ?? 0) & mask) counts.repeatBytes += buffer.length;
      else bits[block >> 3] = (bits[block >> 3] ?? 0) | mask;
      answer(index, offset, buffer);
    };
  });
  return counts;
}
