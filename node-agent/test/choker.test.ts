// The cooperative choker (fetch's choker.ts): a seed with 2 upload slots facing 5 interested
// peers rotates its slots, so every peer is unchoked within a few rechoke rounds; a peer that
// leaves its slot idle loses it before its hold time is up. Under
// webtorrent's tit-for-tat rechoke the first two would keep their slots and the others
// would wait for the 30 s optimistic slot one at a time.

import { join } from 'node:path';
import type { TransferEngine } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawPeer } from './helpers/raw-peer.js';
import { closeSwarm, makeArtifact, openSwarm, startSeedingEngine, type Tracker } from './helpers/swarm.js';

let dir: string;
let tracker: Tracker;
let engine: TransferEngine | undefined;

beforeAll(async () => {
  ({ dir, tracker } = await openSwarm('tsw-choker-'));
});

afterAll(() => closeSwarm({ dir, tracker }, { engines: [engine] }));

describe('cooperative choker', () => {
  it('gives 2 upload slots to each of 5 interested peers in turn, never more than 2 at once', async () => {
    const artifact = await makeArtifact(join(dir, 'seed'), {
      fileName: 'seed.img',
      sizeBytes: 4 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    engine = await startSeedingEngine(artifact, { uploadSlots: 2 });
    const seed = engine;
    const peers = await Promise.all(
      [1, 2, 3, 4, 5].map(() => RawPeer.connect(seed.port, artifact.info.infoHash)),
    );
    try {
      // Once the seed has opened the wire (its bitfield arrived), say we want pieces.
      for (const p of peers) await p.until(() => p.bitfieldBits > 0);
      for (const p of peers) p.emptyBitfield(artifact.info.pieceCount);
      for (const p of peers) p.interested();
      const deadline = Date.now() + 20_000;
      while (!peers.every((p) => p.everUnchoked) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(peers.map((p) => p.everUnchoked)).toEqual([true, true, true, true, true]);
      // the cap, counted where it is enforced
      expect(engine.stats()[0]?.peakUnchoked).toBe(2);
    } finally {
      for (const p of peers) p.close();
    }
  }, 40_000);

  it('takes the slot from a peer that asks for nothing before its hold is up, and keeps it with one that asks', async () => {
    const artifact = await makeArtifact(join(dir, 'idle'), {
      fileName: 'idle.img',
      sizeBytes: 4 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    const seed = await startSeedingEngine(artifact, { uploadSlots: 1 });
    const peers = await Promise.all([1, 2].map(() => RawPeer.connect(seed.port, artifact.info.infoHash)));
    let asking: ReturnType<typeof setInterval> | undefined;
    try {
      for (const p of peers) await p.until(() => p.bitfieldBits > 0);
      for (const p of peers) p.emptyBitfield(artifact.info.pieceCount);
      for (const p of peers) p.interested();
      await peers[0]?.until(() => peers.some((p) => p.unchoked));
      const idle = peers.find((p) => p.unchoked) as RawPeer;
      const busy = peers.find((p) => p !== idle) as RawPeer;
      // The idle peer never requests: it loses the one slot well within the 20 s hold.
      await busy.until(() => busy.unchoked, 5_000);
      expect(idle.unchoked).toBe(false);
      expect(idle.chokedAt - idle.unchokedAt).toBeLessThan(4_000);
      // The busy peer keeps asking for blocks and keeps the slot (5 s of its 20 s hold).
      let block = 0;
      asking = setInterval(() => {
        // the test artifact's pieces are 256 KiB: 16 blocks each
        busy.request(Math.floor(block / 16) % artifact.info.pieceCount, (block % 16) * 16 * 1024, 16 * 1024);
        block += 1;
      }, 100);
      await new Promise((r) => setTimeout(r, 5_000));
      expect(busy.unchoked).toBe(true);
      expect(busy.blocks).toBeGreaterThan(20);
      expect(idle.unchoked).toBe(false);
    } finally {
      clearInterval(asking);
      for (const p of peers) p.close();
      await seed.destroy();
    }
  }, 40_000);
});
