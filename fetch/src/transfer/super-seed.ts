// Super-seeding (BEP 16) for the origin. An ordinary seed shows every peer all its pieces,
// so at the start of a rollout each agent asks the origin for pieces of its own random
// choice: the origin link carries the same piece to several agents while the agents, all
// holding different few pieces, have little to trade. A super-seed instead shows each peer
// only `piecesPerPeer` pieces it lacks, chosen so that pieces the origin has shown least often
// (and the swarm holds least) go out first; when the peer announces one of them (HAVE), the
// next is shown. The origin's upload then goes mostly to pieces nobody has, and the agents
// spread them among themselves.
//
// As libtorrent does, and unlike BEP 16's strict form, a new piece is shown to a peer as soon
// as that peer has a shown one, without waiting until a third peer has it: inside a site
// every agent runs our code and uploads what it has, so there is no hoarding to guard against.

import type { Torrent, Wire } from 'webtorrent';

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
  const peers = (): SeedWire[] =>
    torrent.wires.filter((w) => w.type !== 'webSeed' && !w.destroyed) as SeedWire[];

  /** The piece to show next to this peer: least shown, then least held, ties at random. */
  const pickFor = (wire: SeedWire, outstanding: Set<number>): number => {
    const connected = peers();
    // Peers that hold piece i: what the swarm already has needs the origin least.
    const availability = (i: number): number => connected.filter((w) => w.peerPieces.get(i)).length;
    let best = -1;
    let bestKey = Number.POSITIVE_INFINITY;
    let ties = 0;
    const count = pieceCount();
    const offset = Math.floor(Math.random() * count); // ties start at a random place
    for (let k = 0; k < count; k++) {
      const i = (k + offset) % count;
      if (wire.peerPieces.get(i) || outstanding.has(i)) continue;
      const key = (stats.shown[i] ?? 0) * (connected.length + 1) + availability(i);
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

    const showMore = (): void => {
      if (!opened || wire.destroyed) return;
      for (const i of outstanding) if (wire.peerPieces.get(i)) outstanding.delete(i);
      while (outstanding.size < options.piecesPerPeer) {
        const i = pickFor(wire, outstanding);
        if (i < 0) return;
        outstanding.add(i);
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
    wire.on('have-all', () => outstanding.clear());
  };

  torrent.on('wire', (wire: Wire) => attach(wire as SeedWire));
  return stats;
}
