// Bans peers that send data failing the piece hash. webtorrent only drops the piece and
// re-requests it, so a corrupt seeder would be asked again and again. We remember which
// wires contributed blocks to each piece: a sole contributor of a bad piece is banned at
// once; a peer that shared bad pieces with others is banned after `strikesToBan` of them.

import type { Torrent, Wire } from 'webtorrent';

export interface BanEvent {
  peerId: string;
  address: string | undefined;
  pieceIndex: number;
}

/** One list per engine: a peer banned on one torrent is refused on every torrent. */
export class PeerBanList {
  private readonly peerIds = new Set<string>();
  private readonly addresses = new Set<string>();

  ban(wire: Wire): void {
    if (wire.peerId) this.peerIds.add(wire.peerId);
    const address = outgoingAddress(wire);
    if (address) this.addresses.add(address);
  }

  isBanned(wire: Wire): boolean {
    if (wire.peerId && this.peerIds.has(wire.peerId)) return true;
    const address = outgoingAddress(wire);
    return address !== undefined && this.addresses.has(address);
  }

  get size(): number {
    return this.peerIds.size;
  }
}

// Incoming connections come from ephemeral ports, so only a dialled address identifies a
// peer; its listening address is what trackers, DHT and PEX hand out again.
function outgoingAddress(wire: Wire): string | undefined {
  if (!wire.type.includes('Outgoing') || !wire.remoteAddress) return undefined;
  return `${wire.remoteAddress}:${wire.remotePort}`;
}

const FAILED_PIECE = /^Piece (\d+) failed verification/;

export function banCorruptPeers(
  torrent: Torrent,
  bans: PeerBanList,
  opts: { strikesToBan: number; onBan: (event: BanEvent) => void },
): void {
  const contributors = new Map<number, Set<Wire>>();
  const strikes = new Map<Wire, number>();

  const ban = (wire: Wire, pieceIndex: number): void => {
    if (bans.isBanned(wire)) return;
    bans.ban(wire);
    opts.onBan({ peerId: wire.peerId, address: wire.remoteAddress, pieceIndex });
    // The same peer may hold a second connection (it dialled us and we dialled it).
    for (const other of [...torrent.wires]) if (bans.isBanned(other)) other.destroy();
  };

  torrent.on('wire', (wire: Wire) => {
    if (bans.isBanned(wire)) {
      wire.destroy();
      return;
    }
    wire.on('piece', (index: number) => {
      const set = contributors.get(index) ?? new Set<Wire>();
      contributors.set(index, set);
      set.add(wire);
    });
  });
  torrent.on('verified', (index: number) => contributors.delete(index));
  torrent.on('warning', (err: unknown) => {
    const match = err instanceof Error ? FAILED_PIECE.exec(err.message) : null;
    if (!match) return;
    const pieceIndex = Number(match[1]);
    const wires = [...(contributors.get(pieceIndex) ?? [])];
    contributors.delete(pieceIndex);
    // A failure shared with an already banned peer is explained by it: no strike for the rest.
    if (wires.some((w) => bans.isBanned(w))) return;
    for (const wire of wires) {
      const count = (strikes.get(wire) ?? 0) + 1;
      strikes.set(wire, count);
      if (wires.length === 1 || count >= opts.strikesToBan) ban(wire, pieceIndex);
    }
  });
}
