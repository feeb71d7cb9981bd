// Super-seeding, as the catalog server's origin does it (TransferEngine.seed with superSeed):
// on the wire a fresh peer is shown no pieces but two, one more each time it announces one of
// them; and a swarm of agents fed by a slow super-seeding origin completes with the origin
// sending each piece about once.

import { join } from 'node:path';
import { sha256File, type TransferEngine } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from './helpers/build.js';
import { RawPeer } from './helpers/raw-peer.js';
import {
  type Artifact,
  closeSwarm,
  makeArtifact,
  openSwarm,
  spawnFetch,
  startSeedingEngine,
  type Tracker,
} from './helpers/swarm.js';

let dir: string;
let tracker: Tracker;
const procs: { proc: ReturnType<typeof spawnFetch>['proc'] }[] = [];
const engines: TransferEngine[] = [];

beforeAll(async () => {
  await buildAgent();
  ({ dir, tracker } = await openSwarm('tsw-superseed-'));
});

afterAll(() => closeSwarm({ dir, tracker }, { procs, engines }));

async function startOrigin(
  artifact: Artifact,
  { uploadLimitBytesPerSecond = 0, piecesPerPeer = 2 } = {},
): Promise<TransferEngine> {
  const engine = await startSeedingEngine(
    artifact,
    { uploadSlots: 8, maxConnsPerTorrent: 64, uploadLimitBytesPerSecond },
    { superSeed: { piecesPerPeer } },
  );
  engines.push(engine);
  return engine;
}

describe('super-seeding origin', () => {
  it('shows a new peer an empty bitfield and two pieces, and one more per piece it announces', async () => {
    const artifact = await makeArtifact(join(dir, 'wire'), {
      fileName: 'wire.img',
      sizeBytes: 4 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    const origin = await startOrigin(artifact);
    const peer = await RawPeer.connect(origin.port, artifact.info.infoHash);
    try {
      await peer.until(() => peer.shown.size >= 2);
      expect(peer.bitfieldBits).toBe(0); // an ordinary seed would show all 16 pieces here
      await new Promise((r) => setTimeout(r, 300));
      expect(peer.shown.size).toBe(2);

      const [first] = [...peer.shown];
      peer.have(first ?? 0);
      await peer.until(() => peer.shown.size >= 3);
      await new Promise((r) => setTimeout(r, 300));
      expect(peer.shown.size).toBe(3);

      // A second peer is shown pieces the first was not shown yet (least shown first).
      const other = await RawPeer.connect(origin.port, artifact.info.infoHash);
      try {
        await other.until(() => other.shown.size >= 2);
        for (const i of other.shown) expect(peer.shown.has(i)).toBe(false);
      } finally {
        other.close();
      }
    } finally {
      peer.close();
    }
  }, 30_000);

  it('shows a piece it has not sent before one it has sent, however often each was shown', async () => {
    const artifact = await makeArtifact(join(dir, 'sent'), {
      fileName: 'sent.img',
      sizeBytes: 512 * 1024, // two pieces of 256 KiB
      announce: [tracker.announceUrl],
    });
    const origin = await startOrigin(artifact, { piecesPerPeer: 1 });
    const connect = async (): Promise<RawPeer> => {
      const p = await RawPeer.connect(origin.port, artifact.info.infoHash);
      await p.until(() => p.shown.size >= 1);
      return p;
    };
    // A is shown piece x and downloads all of it: x has been sent once.
    const a = await connect();
    const [x] = [...a.shown] as [number];
    const y = 1 - x;
    a.emptyBitfield(2);
    a.interested();
    await a.until(() => a.unchoked);
    for (let b = 0; b < 16; b++) a.request(x, b * 16 * 1024, 16 * 1024);
    await a.until(() => a.blocks >= 16);
    // y is shown twice without being sent: to D (who leaves), then to A once A has x.
    const d = await connect();
    expect([...d.shown]).toEqual([y]);
    d.close();
    a.have(x);
    await a.until(() => a.shown.has(y));
    a.close();
    // x was shown less often than y, but it is y that the swarm still needs from the origin.
    const b = await connect();
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect([...b.shown]).toEqual([y]);
    } finally {
      b.close();
    }
  }, 30_000);

  it('feeds a swarm of 4 agents that all install the image, each piece leaving the origin about once', async () => {
    const artifact = await makeArtifact(join(dir, 'swarm'), {
      fileName: 'swarm.img',
      sizeBytes: 8 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    // A slow origin, fast agents: what the origin sends more than once is waste.
    const origin = await startOrigin(artifact, { uploadLimitBytesPerSecond: 1_000_000 });
    const leechers = [1, 2, 3, 4].map((i) =>
      spawnFetch({ artifact, entryId: 'entry', dataDir: join(dir, `agent${i}`), seed: true }),
    );
    procs.push(...leechers);
    const installed = await Promise.all(
      leechers.map((l) => l.waitFor((e) => e.event === 'installed', 90_000)),
    );
    for (const e of installed) expect(await sha256File(String(e.path))).toBe(artifact.sha256);
    // No agent is connected to itself (PEX hands every agent its own address).
    for (const l of leechers) {
      const started = await l.waitFor((e) => e.event === 'started');
      const own = `:${String(started.port)}`;
      const seen = l.events
        .filter((e) => e.event === 'stats')
        .flatMap((e) =>
          (e.transfers as Array<{ peers: Array<{ address: string }> }>).flatMap((t) => t.peers),
        );
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.filter((p) => p.address.endsWith(own)).map((p) => p.address)).toEqual([]);
    }
    const sent = origin.stats()[0]?.uploadedBytes ?? 0;
    expect(sent).toBeGreaterThanOrEqual(artifact.info.sizeBytes * 0.9);
    expect(sent).toBeLessThan(artifact.info.sizeBytes * 1.5);
  }, 120_000);
});
