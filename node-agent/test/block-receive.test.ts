// The receive path that writes each block straight to the staged file (fetch's
// piece-verify.ts), fed by hand-written peers (helpers/fake-peer.ts) whose messages arrive
// cut at odd places: blocks that straddle socket reads land byte-exact, the short last
// piece included; a peer that sends corrupt blocks is banned — also when an honest peer
// sent other blocks of the same pieces (smart ban) — and the file still verifies whole; and
// a downloading agent serves the pieces it verified to other peers before it has them all.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BanEvent, defaultTransferConfig, sha256File, TransferEngine } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakePeer, startFakePeer } from './helpers/fake-peer.js';
import { type Artifact, makeArtifact, startTracker, type Tracker } from './helpers/swarm.js';

const PIECE = 32 * 1024;
let dir: string;
let tracker: Tracker;
const peers: FakePeer[] = [];
const engines: TransferEngine[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-blocks-'));
  tracker = await startTracker();
});

afterAll(async () => {
  for (const engine of engines) await engine.destroy();
  for (const peer of peers) await peer.close();
  await tracker?.close();
  await rm(dir, { recursive: true, force: true });
});

async function engine(bans: BanEvent[]): Promise<TransferEngine> {
  const started = await TransferEngine.start(
    {
      ...defaultTransferConfig,
      torrentPort: 0,
      listenAddress: '127.0.0.1',
      pex: false,
      dht: { enabled: false, bootstrap: [], port: 0 },
      webSeed: { ...defaultTransferConfig.webSeed, enabled: false },
    },
    { onBan: (_infoHash, event) => bans.push(event) },
  );
  engines.push(started);
  return started;
}

async function artifact(name: string, pieces = 6): Promise<Artifact> {
  // Whole pieces and a short one whose last block is short too.
  return makeArtifact(join(dir, name), {
    fileName: `${name}.img`,
    sizeBytes: pieces * PIECE + 16384 + 5000,
    announce: [tracker.announceUrl],
    pieceLengthBytes: PIECE,
  });
}

describe('blocks written to the staged file as they arrive', () => {
  it('assembles blocks that straddle socket reads byte-exact, short last piece included', async () => {
    const art = await artifact('straddle');
    const peer = await startFakePeer({
      info: art.info,
      dataPath: art.path,
      announceUrl: tracker.announceUrl,
    });
    peers.push(peer);
    const bans: BanEvent[] = [];
    const result = await (await engine(bans)).download({
      torrentFile: art.torrentFile,
      expectedInfoHash: art.info.infoHash,
      stagingDir: join(dir, 'straddle-staging'),
    });
    expect(await sha256File(result.dataPath)).toBe(art.sha256);
    expect(result.staged).toEqual({ sha256: art.sha256, size: art.info.sizeBytes });
    expect(result.receivedBytes).toBeGreaterThanOrEqual(art.info.sizeBytes);
    expect(bans).toEqual([]);
  }, 60_000);

  it('bans a peer whose blocks are corrupt, also in pieces an honest peer shared, and completes', async () => {
    const art = await artifact('smart-ban');
    // Every second block from this peer is wrong. The honest peer is slow, so the liar sends
    // most blocks: pieces it sent alone fail (banned at once), pieces that mix blocks of both
    // fail and are blamed on it once they verify (smart ban). Either way only the liar goes.
    const liar = await startFakePeer({
      info: art.info,
      dataPath: art.path,
      announceUrl: tracker.announceUrl,
      corrupt: (_piece, offset) => offset === 16384,
    });
    const honest = await startFakePeer({
      info: art.info,
      dataPath: art.path,
      announceUrl: tracker.announceUrl,
      delayMs: 2,
    });
    peers.push(liar, honest);
    const bans: BanEvent[] = [];
    const result = await (await engine(bans)).download({
      torrentFile: art.torrentFile,
      expectedInfoHash: art.info.infoHash,
      stagingDir: join(dir, 'smart-ban-staging'),
    });
    expect(await sha256File(result.dataPath)).toBe(art.sha256);
    expect(result.staged?.sha256).toBe(art.sha256);
    expect(liar.served.some((block) => block.endsWith(':16384'))).toBe(true);
    expect(bans.map((b) => b.peerId)).toEqual([liar.peerId]);
  }, 60_000);

  it('serves verified pieces to other peers while it still downloads', async () => {
    const art = await artifact('relay', 40);
    // A slow seed: the first agent is still downloading when the second asks it for pieces.
    const seed = await startFakePeer({
      info: art.info,
      dataPath: art.path,
      announceUrl: tracker.announceUrl,
      delayMs: 2,
    });
    peers.push(seed);
    const first = await engine([]);
    const second = await engine([]);
    const job = (name: string) => ({
      torrentFile: art.torrentFile,
      expectedInfoHash: art.info.infoHash,
      stagingDir: join(dir, name),
    });
    const firstDone = first.download(job('relay-first'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [a, b] = await Promise.all([firstDone, second.download(job('relay-second'))]);
    expect(await sha256File(a.dataPath)).toBe(art.sha256);
    expect(await sha256File(b.dataPath)).toBe(art.sha256);
    // Had the first agent refused to serve (it rejected every request while its chunk store
    // could not read the file), the seed would have sent every block twice.
    const blocks = 40 * (PIECE / 16384) + 2;
    expect(seed.served.length).toBeLessThan(2 * blocks);
  }, 60_000);
});
