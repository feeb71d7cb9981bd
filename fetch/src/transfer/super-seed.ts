// Super-seeding (BEP 16) for the origin. An ordinary seed shows every peer all its pieces,
// so at the start of a rollout each agent asks the origin for pieces of its own random
// choice: the origin link carries the same piece to several agents while the agents, all
// holding different few pieces, have little to trade. A super-seed instead shows each peer
// only `piecesPerPeer` pieces it lacks, chosen so that pieces the origin has shown least often
// (and the swarm holds least) go out first; when the peer announces one of them (HAVE), the
// next is shown. The origin's upload then goes mostly to pieces nobody has, and the agents
// spread them among themselves.
//
// "Least shown" is not "least sent": a peer shown a piece often gets it from another agent
// first, and once every piece had been shown the origin began showing — and sending — pieces
// it had already sent (at 16 agents it sent 1.9 × S). So the order is: pieces the origin has
// sent the fewest copies of (counted from the block requests it answers), then pieces shown
// to the fewest peers that still lack them, then pieces the fewest connected peers hold.
//
// As libtorrent does, and unlike BEP 16's strict form, a new piece is shown to a peer as soon
// as that peer has a shown one, without waiting until a third peer has it: inside a site
// every agent runs our code and uploads what it has, so there is no hoarding to guard against.

import type { Torrent, Wire } from 'webtorrent';
import { peerWires } from './peer-limits.js';

export interface SuperSeedOptions {
  /** pieces shown and not yet held per peer: 2 keeps the peer's pipe full across a piece boundary */
  piecesPerPeer: number;
}

export interface SuperSeedStats {
  /** how many times each piece was shown to some peer */
  shown: number[];
}

/** The bittorrent-protocol messages a seed sends about its pieces. */
interface SeedWire extends Wire {
  hasFast: boolean;
  have(index: number): void;
  bitfield(bitfield: Uint8Array): void;
  haveAll(): void;
  haveNone(): void;
}

/** Turns a complete torrent's seeding into super-seeding; call right after it is added. */
export function superSeed(torrent: Torrent, options: SuperSeedOptions): SuperSeedStats {
  const stats: SuperSeedStats = { shown: [] };
  const pieceCount = (): number => torrent.pieces.length;
  const peers = (): SeedWire[] => peerWires(torrent) as SeedWire[];
  /** copies of each piece the origin has sent or is sending (answered requests / piece length) */
  const sent: number[] = [];
  /** for each piece, the peers it is shown to that do not hold it yet */
  const pending: number[] = [];
  const pieceBytes = (i: number): number =>
    i === pieceCount() - 1 ? torrent.length - i * torrent.pieceLength : torrent.pieceLength;

  /** The piece to show next to this peer: least sent, least pending, least held, ties at random. */
  const pickFor = (wire: SeedWire, outstanding: Set<number>): number => {
    const connected = peers();
    // Peers that hold piece i: what the swarm already has needs the origin least.
    const availability = (i: number): number => connected.filter((w) => w.peerPieces.get(i)).length;
    let best = -1;
    let bestKey = Number.POSITIVE_INFINITY;
    let ties = 0;
    const count = pieceCount();
    const offset = Math.floor(Math.random() * count); // ties start at a random place
    const scale = connected.length + 1;
    for (let k = 0; k < count; k++) {
      const i = (k + offset) % count;
      if (wire.peerPieces.get(i) || outstanding.has(i)) continue;
      // whole copies sent weigh most; a copy under way counts as sent
      const key = (Math.ceil((sent[i] ?? 0) - 1e-9) * scale + (pending[i] ?? 0)) * scale + availability(i);
      if (key < bestKey) {
        bestKey = key;
        best = i;
        ties = 1;
      } else if (key === bestKey && Math.random() * ++ties < 1) best = i;
    }
    return best;
  };

  const attach = (wire: SeedWire): void => {
    if (wire.type === 'webSeed') return;
    const outstanding = new Set<number>();
    const sendHave = wire.have.bind(wire);
    let opened = false;

    const settle = (i: number): void => {
      outstanding.delete(i);
      pending[i] = (pending[i] ?? 1) - 1;
    };
    const showMore = (): void => {
      if (!opened || wire.destroyed) return;
      for (const i of outstanding) if (wire.peerPieces.get(i)) settle(i);
      while (outstanding.size < options.piecesPerPeer) {
        const i = pickFor(wire, outstanding);
        if (i < 0) return;
        outstanding.add(i);
        pending[i] = (pending[i] ?? 0) + 1;
        stats.shown[i] = (stats.shown[i] ?? 0) + 1;
        sendHave(i);
      }
    };

    // webtorrent opens every wire with a bitfield (or have-all): send an empty one instead,
    // then show the first pieces.
    const hidden = (): void => {
      if (opened) return;
      opened = true;
      if (wire.hasFast) wire.haveNone();
      else sendBitfield(new Uint8Array(Math.ceil(pieceCount() / 8)));
      queueMicrotask(showMore);
    };
    const sendBitfield = wire.bitfield.bind(wire);
    wire.haveAll = hidden;
    wire.bitfield = () => hidden();
    // A seed verifies no new piece, so webtorrent has no HAVE to send; none may reveal more.
    wire.have = () => {};
    wire.on('have', showMore);
    wire.on('bitfield', showMore);
    wire.on('have-all', () => {
      for (const i of outstanding) settle(i);
    });
    wire.once('close', () => {
      for (const i of outstanding) settle(i);
    });
    wire.on('request', (index: number, _offset: number, length: number) => {
      // webtorrent answers it unless it chokes the peer (then it is rejected or ignored)
      if (!wire.amChoking && index < pieceCount())
        sent[index] = (sent[index] ?? 0) + length / pieceBytes(index);
    });
  };

  torrent.on('wire', (wire: Wire) => attach(wire as SeedWire));
  return stats;
}
