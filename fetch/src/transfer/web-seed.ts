// Holds back the origin web seed (BEP 19) so a rollout to thousands of agents does not
// stampede it: the web seed joins only when no connected peer offers any piece this agent
// still needs (the download is stalled) for `noPeerGraceSeconds`, or in any case after
// `delaySeconds`. "Some piece is offered by nobody" would be the wrong test: the origin
// super-seeds (super-seed.ts), showing each agent a few pieces at a time, so early in a
// rollout most pieces are offered by nobody while the swarm is working at full speed.

import type { Torrent } from 'webtorrent';
import { peerWires } from './peer-limits.js';

export interface WebSeedPolicy {
  delaySeconds: number;
  noPeerGraceSeconds: number;
  checkIntervalMs: number;
}

function noPeerOffersANeededPiece(torrent: Torrent): boolean {
  const peers = peerWires(torrent);
  for (let i = 0; i < torrent.pieces.length; i++) {
    if (torrent.bitfield.get(i)) continue;
    if (peers.some((w) => w.peerPieces.get(i))) return false;
  }
  return true;
}

/** Starts watching; returns a stop function. `onUse` reports why the web seed was added. */
export function deferWebSeeds(
  torrent: Torrent,
  urls: string[],
  policy: WebSeedPolicy,
  onUse: (reason: 'delay' | 'no-peer-has-piece') => void,
): () => void {
  if (urls.length === 0) return () => {};
  const startedAt = Date.now();
  let uncoveredSince: number | undefined;

  const timer = setInterval(() => {
    if (torrent.destroyed || torrent.done) return stop();
    const now = Date.now();
    let reason: 'delay' | 'no-peer-has-piece' | undefined;
    if (now - startedAt >= policy.delaySeconds * 1000) reason = 'delay';
    else if (noPeerOffersANeededPiece(torrent)) {
      uncoveredSince ??= now;
      if (now - uncoveredSince >= policy.noPeerGraceSeconds * 1000) reason = 'no-peer-has-piece';
    } else uncoveredSince = undefined;
    if (!reason) return;
    for (const url of urls) torrent.addWebSeed(url);
    onUse(reason);
    stop();
  }, policy.checkIntervalMs);
  timer.unref();

  function stop(): void {
    clearInterval(timer);
  }
  return stop;
}
