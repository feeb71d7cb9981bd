// Bans peers that send data failing the piece hash. webtorrent only drops the piece and
// re-requests it, so a corrupt seeder would be asked again and again. A piece (4–8 MiB) is
// assembled from blocks of several peers, so a failed piece alone does not say who lied:
// blaming every contributor bans honest peers beside a corrupt one. So, as libtorrent's
// "smart ban" does: a sole contributor of a bad piece is banned at once; otherwise the
// hash of each block of the failed attempt is kept with the peer that sent it, and when the
// piece later verifies, every peer whose block differs from the verified data is proven
// corrupt and banned (after `strikesToBan` such pieces); peers whose blocks matched are not.
//
// The failed piece's data and senders come from piece-verify.ts (FAILED_PIECE_EVENT), which
// assembles pieces itself. Only when that path is not installed (unknown webtorrent version)
// are references to the received blocks kept per piece: they pin the socket reads the blocks
// arrived in (tens of MB while several pieces are in flight).

import { createHash } from 'node:crypto';
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

/** Emitted on the torrent by piece-verify.ts when an assembled piece fails its SHA-1. */
export const FAILED_PIECE_EVENT = 'tsw:failed-piece';

export interface FailedPiece {
  index: number;
  /** the piece as assembled; valid only during the event */
  data: Uint8Array;
  /** the peer each block of `data` came from */
  blocks: Array<{ wire: Wire; offset: number; length: number }>;
}

interface Block {
  wire: Wire;
  offset: number;
  data: Uint8Array;
}

/** Block hashes of a failed attempt: offset → (peer, sha1). Kept until the piece verifies. */
type Suspects = Array<{ wire: Wire; offset: number; length: number; sha1: string }>;

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest('hex');

export function banCorruptPeers(
  torrent: Torrent,
  bans: PeerBanList,
  opts: {
    strikesToBan: number;
    onBan: (event: BanEvent) => void;
    /** piece-verify.ts emits FAILED_PIECE_EVENT on this torrent: keep no block references */
    failedPieceEvents?: boolean;
  },
): void {
  // Fallback path only: references to the received blocks (webtorrent holds the same buffers
  // until the piece completes); hashed only when a piece fails.
  const inFlight = new Map<number, Block[]>();
  const suspects = new Map<number, Suspects>();
  const strikes = new Map<Wire, number>();

  const ban = (wire: Wire, pieceIndex: number): void => {
    if (bans.isBanned(wire)) return;
    bans.ban(wire);
    opts.onBan({ peerId: wire.peerId, address: wire.remoteAddress, pieceIndex });
    // The same peer may hold a second connection (it dialled us and we dialled it).
    for (const other of [...torrent.wires]) if (bans.isBanned(other)) other.destroy();
  };
  const strike = (wire: Wire, pieceIndex: number): void => {
    const count = (strikes.get(wire) ?? 0) + 1;
    strikes.set(wire, count);
    if (count >= opts.strikesToBan) ban(wire, pieceIndex);
  };

  torrent.on('wire', (wire: Wire) => {
    if (bans.isBanned(wire)) {
      wire.destroy();
      return;
    }
    if (opts.failedPieceEvents) return;
    wire.on('piece', (index: number, offset: number, data: Uint8Array) => {
      const blocks = inFlight.get(index) ?? [];
      inFlight.set(index, blocks);
      blocks.push({ wire, offset, data });
    });
  });

  torrent.on('verified', (index: number) => {
    inFlight.delete(index);
    const failed = suspects.get(index);
    if (!failed) return;
    suspects.delete(index);
    // The verified copy is the truth: compare each suspect block with it.
    torrent.store.get(index, (err: Error | null, good?: Uint8Array) => {
      if (err || !good) return;
      for (const s of failed) {
        if (sha1(good.subarray(s.offset, s.offset + s.length)) !== s.sha1) strike(s.wire, index);
      }
    });
  });

  const onFailed = (pieceIndex: number, blocks: Array<{ wire: Wire; offset: number; data: Uint8Array }>) => {
    const wires = new Set(blocks.map((b) => b.wire));
    if (wires.size === 1) {
      for (const wire of wires) ban(wire, pieceIndex);
      return;
    }
    const kept = suspects.get(pieceIndex) ?? [];
    for (const b of blocks) {
      if (bans.isBanned(b.wire)) continue; // already explained
      kept.push({ wire: b.wire, offset: b.offset, length: b.data.length, sha1: sha1(b.data) });
    }
    suspects.set(pieceIndex, kept);
  };

  if (opts.failedPieceEvents) {
    torrent.on(FAILED_PIECE_EVENT, (failed: FailedPiece) => {
      const blocks = failed.blocks.map((b) => ({
        wire: b.wire,
        offset: b.offset,
        data: failed.data.subarray(b.offset, b.offset + b.length),
      }));
      onFailed(failed.index, blocks);
    });
    return;
  }
  torrent.on('warning', (err: unknown) => {
    const match = err instanceof Error ? FAILED_PIECE.exec(err.message) : null;
    if (!match) return;
    const pieceIndex = Number(match[1]);
    const blocks = inFlight.get(pieceIndex) ?? [];
    inFlight.delete(pieceIndex);
    onFailed(pieceIndex, blocks);
  });
}
