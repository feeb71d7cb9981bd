// The cap on peers feeding a downloading agent (fetch's source-limits.ts): unchoked by more
// peers than `maxSources`, it tells the extra ones `not interested`, so their upload slots
// go to agents fed by fewer; it asks a declined peer again when a source stops; and it never
// declines the only peer offering a piece it needs. The peers here are bare wires that show
// pieces and unchoke but never send a block, so the counts stay still while the test looks.

import { join } from 'node:path';
import { TransferEngine } from '@trustswarm/fetch';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawPeer } from './helpers/raw-peer.js';
import {
  type Artifact,
  closeSwarm,
  loopbackTransferConfig,
  makeArtifact,
  openSwarm,
  type Tracker,
} from './helpers/swarm.js';

const PIECE = 32 * 1024;
const PIECES = 8;
let dir: string;
let tracker: Tracker;
let engine: TransferEngine | undefined;
let peers: RawPeer[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  ({ dir, tracker } = await openSwarm('tsw-sources-'));
});
afterEach(async () => {
  for (const p of peers) p.close();
  peers = [];
  await engine?.destroy();
  engine = undefined;
});
afterAll(() => closeSwarm({ dir, tracker }));

/** A downloading engine capped at `maxSources`, and `holdings.length` bare peers connected to it. */
async function downloadFrom(name: string, maxSources: number, holdings: Array<(i: number) => boolean>) {
  const art: Artifact = await makeArtifact(join(dir, name), {
    fileName: `${name}.img`,
    sizeBytes: PIECES * PIECE,
    announce: [tracker.announceUrl],
    pieceLengthBytes: PIECE,
  });
  const started = await TransferEngine.start(
    loopbackTransferConfig({ tracker: false, pex: false, maxSources }),
  );
  engine = started;
  // never completes: the peers send no block; afterEach destroys the engine
  void started
    .download({
      torrentFile: art.torrentFile,
      expectedInfoHash: art.info.infoHash,
      stagingDir: join(dir, `${name}-staging`),
    })
    .catch(() => undefined);
  // a handshake for a torrent the engine has not added yet is dropped
  while (!started.has(art.info.infoHash)) await sleep(20);
  peers = await Promise.all(holdings.map(() => RawPeer.connect(started.port, art.info.infoHash)));
  for (const [k, p] of peers.entries()) {
    await p.until(() => p.bitfieldBits >= 0);
    p.bitfield(PIECES, holdings[k] as (i: number) => boolean);
    p.unchoke();
  }
  await Promise.all(peers.map((p) => p.until(() => p.interestedCount > 0)));
  return started;
}

const declined = (): RawPeer[] => peers.filter((p) => !p.wanted);

describe('source limits', () => {
  it('keeps 2 of 4 unchoking peers and asks a declined one again when a source chokes', async () => {
    const all = () => true;
    const e = await downloadFrom('cap', 2, [all, all, all, all]);
    await peers[0]?.until(() => declined().length === 2, 5_000);
    await sleep(2_500); // a few more rounds: no further declines, none asked back
    expect(declined()).toHaveLength(2);
    expect(e.stats()[0]?.declinedSources).toBe(2);

    const kept = peers.find((p) => p.wanted) as RawPeer;
    const wasDeclined = declined();
    kept.choke();
    await kept.until(() => wasDeclined.some((p) => p.wanted), 5_000);
    // one source left: exactly one declined peer asked again, the other still declined
    expect(wasDeclined.filter((p) => p.wanted)).toHaveLength(1);
    expect(wasDeclined.filter((p) => p.interestedCount === 2)).toHaveLength(1);
  }, 30_000);

  it('never declines the only peer offering a piece it needs', async () => {
    const allButFirst = (i: number) => i !== 0;
    const onlyFirst = (i: number) => i === 0;
    // c connects first, so with equal (zero) rates it would be the first declined but for the rule
    const e = await downloadFrom('sole', 1, [onlyFirst, allButFirst, allButFirst]);
    const [c, a, b] = peers as [RawPeer, RawPeer, RawPeer];
    await a.until(() => declined().length === 1, 5_000);
    await sleep(2_500);
    // a and b offer the same pieces: one of them goes; c alone offers piece 0 and stays, and so
    // does the other of a and b, now alone with pieces 1–7: 2 sources although the cap is 1
    expect(c.notInterestedCount).toBe(0);
    expect([a.wanted, b.wanted].sort()).toEqual([false, true]);
    expect(e.stats()[0]?.declinedSources).toBe(1);
  }, 30_000);
});
