// The smart-ban decisions on pieces reported by piece-verify.ts (FAILED_PIECE_EVENT): a sole
// sender of a corrupt piece is banned at once; with several senders, only the peer whose
// block differs from the later verified piece is banned, and the failed piece's data is
// read during the event only (its buffer goes back to the pool right after).

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Torrent, Wire } from 'webtorrent';
import {
  type BanEvent,
  banCorruptPeers,
  FAILED_PIECE_EVENT,
  PeerBanList,
} from '../src/transfer/peer-bans.js';

const BLOCK = 16 * 1024;

function fakeWire(n: number): Wire {
  const wire = new EventEmitter() as unknown as Wire & { destroyed: boolean };
  Object.assign(wire, {
    peerId: `peer-${n}`,
    type: 'tcpOutgoing',
    remoteAddress: '127.0.0.1',
    remotePort: 7000 + n,
    destroyed: false,
    destroy: () => {
      wire.destroyed = true;
    },
  });
  return wire;
}

/** A torrent as banCorruptPeers sees it: events, its wires, and a store holding `good`. */
function fakeTorrent(wires: Wire[], good: Uint8Array): Torrent {
  const torrent = new EventEmitter() as unknown as Torrent;
  Object.assign(torrent, {
    wires,
    store: { get: (_index: number, cb: (err: null, buf: Uint8Array) => void) => cb(null, good) },
  });
  return torrent;
}

function setup(wireCount: number, good: Uint8Array) {
  const wires = Array.from({ length: wireCount }, (_, i) => fakeWire(i));
  const torrent = fakeTorrent(wires, good);
  const bans = new PeerBanList();
  const events: BanEvent[] = [];
  banCorruptPeers(torrent, bans, { strikesToBan: 1, onBan: (e) => events.push(e), failedPieceEvents: true });
  for (const wire of wires) torrent.emit('wire', wire);
  return { wires, torrent, bans, events };
}

const piece = (fill: number) => new Uint8Array(2 * BLOCK).fill(fill);

describe('banCorruptPeers with pieces reported by piece-verify', () => {
  it('bans the sole sender of a corrupt piece at once', () => {
    const { wires, torrent, events } = setup(1, piece(1));
    const [liar] = wires as [Wire];
    torrent.emit(FAILED_PIECE_EVENT, {
      index: 3,
      data: piece(9),
      blocks: [
        { wire: liar, offset: 0, length: BLOCK },
        { wire: liar, offset: BLOCK, length: BLOCK },
      ],
    });
    expect(events).toEqual([{ peerId: 'peer-0', address: '127.0.0.1', pieceIndex: 3 }]);
  });

  it('with several senders, bans only the one whose block differs from the verified piece', () => {
    const good = piece(1);
    const { wires, torrent, events, bans } = setup(2, good);
    const [honest, liar] = wires as [Wire, Wire];
    const failed = piece(1);
    failed.fill(9, BLOCK); // the second block, sent by the liar, is corrupt
    torrent.emit(FAILED_PIECE_EVENT, {
      index: 5,
      data: failed,
      blocks: [
        { wire: honest, offset: 0, length: BLOCK },
        { wire: liar, offset: BLOCK, length: BLOCK },
      ],
    });
    // The reported buffer is reused right after the event: the decision must not read it later.
    failed.fill(0);
    expect(events).toEqual([]);

    torrent.emit('verified', 5);
    expect(events).toEqual([{ peerId: 'peer-1', address: '127.0.0.1', pieceIndex: 5 }]);
    expect(bans.isBanned(liar)).toBe(true);
    expect(bans.isBanned(honest)).toBe(false);
  });

  it('keeps no received blocks: a piece warning alone bans nobody', () => {
    const { wires, torrent, events } = setup(1, piece(1));
    (wires[0] as Wire).emit('piece', 2, 0, piece(9).subarray(0, BLOCK));
    torrent.emit('warning', new Error('Piece 2 failed verification'));
    expect(events).toEqual([]);
  });
});
