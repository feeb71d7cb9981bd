// A seed counts the block bytes it sends again (fetch's repeat-uploads.ts): for the catalog
// server's origin these are link time not spent on pieces the swarm lacks
// (`tsw_catalog_seeder_repeat_bytes`, the swarm benchmark's "blocks sent before").

import { join } from 'node:path';
import type { TransferEngine } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawPeer } from './helpers/raw-peer.js';
import { closeSwarm, makeArtifact, openSwarm, startSeedingEngine, type Tracker } from './helpers/swarm.js';

let dir: string;
let tracker: Tracker;
let engine: TransferEngine | undefined;

beforeAll(async () => {
  ({ dir, tracker } = await openSwarm('tsw-repeats-'));
});

afterAll(() => closeSwarm({ dir, tracker }, { engines: [engine] }));

describe('seeder repeat uploads', () => {
  it('counts the bytes of blocks sent a second time, to the same or another peer', async () => {
    const artifact = await makeArtifact(join(dir, 'seed'), {
      fileName: 'seed.img',
      sizeBytes: 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    engine = await startSeedingEngine(artifact, { uploadSlots: 2 });
    const seed = engine;
    const [a, b] = (await Promise.all(
      [1, 2].map(() => RawPeer.connect(seed.port, artifact.info.infoHash)),
    )) as [RawPeer, RawPeer];
    try {
      for (const p of [a, b]) {
        await p.until(() => p.bitfieldBits > 0);
        p.emptyBitfield(artifact.info.pieceCount);
        p.interested();
        await p.until(() => p.unchoked);
      }
      const block = 16 * 1024;
      expect(seed.stats()[0]?.repeatUploadBytes).toBe(0);
      // a: three new blocks; b: two of a's; a: one of its own again
      for (const [index, offset] of [
        [0, 0],
        [0, block],
        [1, 0],
      ] as const)
        a.request(index, offset, block);
      await a.until(() => a.blocks === 3);
      expect(seed.stats()[0]?.repeatUploadBytes).toBe(0);
      b.request(0, 0, block);
      b.request(1, 0, block);
      await b.until(() => b.blocks === 2);
      a.request(0, block, block);
      await a.until(() => a.blocks === 4);
      expect(seed.stats()[0]?.repeatUploadBytes).toBe(3 * block);
    } finally {
      a.close();
      b.close();
    }
  }, 30_000);
});
