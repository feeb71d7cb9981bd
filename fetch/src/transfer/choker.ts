// Who gets the upload slots. webtorrent's rechoke is BitTorrent's tit-for-tat: every 10 s it
// keeps unchoked the peers that send it most (a seed: that download from it fastest) and
// rotates one optimistic slot every 30 s. Inside a site every agent runs our code and uploads
// whatever it has, so there is nobody to punish, and tit-for-tat only hurts: the swarm
// benchmark showed half of 16 agents at 0 % for 25 s, choked by the origin (its 8 slots kept
// by the same 8 fast downloaders) and by agents (that favour peers who send them pieces,
// which a peer with nothing cannot).
//
// The cooperative choker instead gives the slots, every `intervalMs`, to the interested peers
// that hold the fewest pieces (they need the most and, holding little, are asked for little,
// so their upload capacity is idle), ties to the peer that waited longest. A peer keeps its
// slot for at least `holdMs` so that it can finish the pieces it started, unless it leaves
// the slot idle: a peer that has asked for nothing for `idleMs` (interested means "you have
// a piece I lack", not "I will ask you now": its other peers may already be sending it every
// such piece) loses the slot to one that may use it, and waits behind the others for a
// while. The swarm benchmark's timeline showed a third of the unchoked, interested wires
// with no request in flight while the uploaders' links ran at 60 % of their rate.
//
// The hold is 20 s. At 6 s the 16-agent swarm benchmark took 1.46–1.50 × S/B; at 20 s (or
// 60) 1.39–1.41 ×, with its links 2–4 points busier; with the agents at 20 s and the origin
// at 6 s, 1.48 × again (test/README, "Session 13"). The origin shows each agent one 4 MiB
// piece at a time and serves 8 at ~6 Mbit/s each, ~5.6 s a piece, so a 6 s hold choked
// agents in the middle of a piece only they had been shown.
// The cap on unchoked peers itself stays in peer-limits.ts.

import type { Torrent, Wire } from 'webtorrent';
import { peerWires } from './peer-limits.js';
import { piecesHeld } from './peer-stats.js';

export interface ChokerOptions {
  uploadSlots: number;
  intervalMs: number;
  holdMs: number;
  /** an unchoked peer that asked for nothing this long gives its slot up */
  idleMs: number;
  /** how long a peer that left its slot idle ranks behind the others */
  idlePenaltyMs: number;
}

export const defaultChokerTiming = { intervalMs: 1000, holdMs: 20_000, idleMs: 1500, idlePenaltyMs: 5000 };

/** Replaces webtorrent's rechoke on this torrent; stops with the torrent. */
export function cooperativeChoker(torrent: Torrent, options: ChokerOptions): void {
  const unchokedAt = new WeakMap<Wire, number>();
  const lastServed = new WeakMap<Wire, number>();
  const lastRequest = new WeakMap<Wire, number>();
  const idleAt = new WeakMap<Wire, number>();
  // webtorrent calls _rechoke from its own 10 s timer; ours runs instead.
  (torrent as unknown as { _rechoke: () => void })._rechoke = () => {};
  torrent.on('wire', (wire: Wire) => {
    wire.on('request', () => lastRequest.set(wire, Date.now()));
  });

  const rechoke = (): void => {
    if (torrent.destroyed || !torrent.ready) return;
    const now = Date.now();
    const peers = peerWires(torrent);
    for (const w of peers) {
      if (w.amChoking) unchokedAt.delete(w);
      else {
        lastServed.set(w, now);
        // unchoked elsewhere (peer-limits, on `interested`): its hold starts now
        if (!unchokedAt.has(w)) unchokedAt.set(w, now);
      }
    }
    // Interest alone decides: webtorrent's isSeeder guess is wrong for a peer that sent no
    // bitfield (allowed when it has no piece).
    const wanting = peers.filter((w) => w.peerInterested);
    const idle = (w: Wire): boolean =>
      !w.amChoking &&
      (w as unknown as { peerRequests: unknown[] }).peerRequests.length === 0 &&
      now - Math.max(unchokedAt.get(w) ?? 0, lastRequest.get(w) ?? 0) >= options.idleMs;
    for (const w of wanting) if (idle(w)) idleAt.set(w, now);
    const held = wanting.filter(
      (w) => !w.amChoking && now - (unchokedAt.get(w) ?? 0) < options.holdMs && idleAt.get(w) !== now,
    );
    const pieceCount = torrent.pieces.length;
    const penalised = (w: Wire): number =>
      now - (idleAt.get(w) ?? -Infinity) < options.idlePenaltyMs ? 1 : 0;
    const ranked = wanting
      .filter((w) => !held.includes(w))
      .map((w) => ({
        w,
        idle: penalised(w),
        pieces: piecesHeld(w, pieceCount),
        served: lastServed.get(w) ?? 0,
      }))
      .sort((a, b) => a.idle - b.idle || a.pieces - b.pieces || a.served - b.served)
      .map((r) => r.w);
    const chosen = new Set([...held, ...ranked.slice(0, Math.max(0, options.uploadSlots - held.length))]);
    // Choke first, so the slots are free for the chosen.
    for (const w of peers) if (!w.amChoking && !chosen.has(w)) w.choke();
    for (const w of chosen) {
      if (!w.amChoking) continue;
      w.unchoke();
      if (!w.amChoking) unchokedAt.set(w, now);
    }
  };

  const timer = setInterval(rechoke, options.intervalMs);
  timer.unref();
  torrent.once('close', () => clearInterval(timer));
}
