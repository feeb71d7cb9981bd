// The cooperative choker (fetch's choker.ts): a seed with 2 upload slots facing 5 interested
// peers rotates its slots, so every peer is unchoked within a few rechoke rounds. Under
// webtorrent's tit-for-tat rechoke the first two would keep their slots and the others
// would wait for the 30 s optimistic slot one at a time.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransferEngine } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawPeer } from './helpers/raw-peer.js';
import { makeArtifact, startSeedingEngine, startTracker, type Tracker } from './helpers/swarm.js';

let dir: string;
let tracker: Tracker;
let engine: TransferEngine | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-choker-'));
  tracker = await startTracker();
});

afterAll(async () => {
  await engine?.destroy();
  await tracker?.close();
  await rm(dir, { recursive: true, force: true });
});

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
});
