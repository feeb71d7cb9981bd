// How many peers feed this agent at once. An uploader's choker cannot see who else feeds a
// peer, so in a swarm some agents are unchoked by 7–9 peers and others by 0–2 (test/README,
// session 12): the first share their downlink among so many flows that their senders' uplinks
// idle, the second cannot fill theirs. The receiver can see it. When more than `maxSources`
// peers unchoke it, it tells the slowest of the extra ones `not interested` (only those whose
// pieces it can also get from a source it keeps); their choker then gives the slot to an agent
// fed by fewer. When its sources drop below the cap, the longest-declined peer is asked again.

import type { Torrent, Wire } from 'webtorrent';
import { peerWires } from './peer-limits.js';

export interface SourceLimitOptions {
  maxSources: number;
  intervalMs: number;
}

export interface SourceLimitCounters {
  /** peers told `not interested` because enough others fed this agent */
  declinedSources: number;
}

interface InterestHooks {
  _updateWireInterest(wire: Wire): void;
}

const downloadSpeed = (w: Wire): number => (w as unknown as { downloadSpeed(): number }).downloadSpeed();
/** bittorrent-protocol's `not interested` (missing from webtorrent's types); a no-op when already sent */
const sendUninterested = (w: Wire): void => (w as unknown as { uninterested(): void }).uninterested();

/** Caps the peers feeding `torrent` at `maxSources`; stops with the torrent. */
export function limitSources(torrent: Torrent, options: SourceLimitOptions): SourceLimitCounters {
  const counters: SourceLimitCounters = { declinedSources: 0 };
  /** declined wires, in the order they were declined */
  const declined = new Set<Wire>();
  const hooks = torrent as unknown as InterestHooks;
  const updateInterest = hooks._updateWireInterest.bind(torrent);
  // webtorrent re-sends `interested` on every HAVE of a piece we lack; a declined peer stays
  // uninterested until we ask it again.
  hooks._updateWireInterest = (wire: Wire) => {
    if (declined.has(wire)) sendUninterested(wire);
    else updateInterest(wire);
  };
  torrent.on('wire', (wire: Wire) => {
    wire.once('close', () => declined.delete(wire));
  });

  const ask = (wire: Wire): void => {
    declined.delete(wire);
    if (!wire.destroyed) updateInterest(wire);
  };

  const tick = (): void => {
    if (torrent.destroyed || !torrent.ready || torrent.done) return;
    const pieceCount = torrent.pieces.length;
    const wires = peerWires(torrent);
    const sources = wires.filter((w) => !w.peerChoking && w.amInterested && !declined.has(w));
    if (sources.length < options.maxSources) {
      for (const w of [...declined].slice(0, options.maxSources - sources.length)) ask(w);
      return;
    }
    // How many sources offer each piece we still need: a peer that is the only one is kept.
    const pieces = torrent.pieces as unknown as Array<unknown>;
    const needed: number[] = [];
    for (let i = 0; i < pieceCount; i++) if (pieces[i] != null && !torrent.bitfield.get(i)) needed.push(i);
    const offers = new Uint16Array(pieceCount);
    for (const w of sources)
      for (const i of needed) if (w.peerPieces.get(i)) offers[i] = (offers[i] ?? 0) + 1;
    const onlySource = (w: Wire): boolean => needed.some((i) => offers[i] === 1 && w.peerPieces.get(i));
    let extra = sources.length - options.maxSources;
    for (const w of [...sources].sort((a, b) => downloadSpeed(a) - downloadSpeed(b))) {
      if (extra <= 0) break;
      if (onlySource(w)) continue;
      for (const i of needed) if (w.peerPieces.get(i)) offers[i] = (offers[i] ?? 1) - 1;
      declined.add(w);
      sendUninterested(w);
      counters.declinedSources += 1;
      extra -= 1;
    }
  };

  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  torrent.once('close', () => clearInterval(timer));
  return counters;
}
