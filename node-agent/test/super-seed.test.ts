// Super-seeding, as the catalog server's origin does it (TransferEngine.seed with superSeed):
// on the wire a fresh peer is shown no pieces but two, one more each time it announces one of
// them; and a swarm of agents fed by a slow super-seeding origin completes with the origin
// sending each piece about once.

import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultTransferConfig, sha256File, TransferEngine } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from './helpers/build.js';
import {
  type Artifact,
  makeArtifact,
  spawnFetch,
  startTracker,
  stopAll,
  type Tracker,
} from './helpers/swarm.js';

let dir: string;
let tracker: Tracker;
const procs: { proc: ReturnType<typeof spawnFetch>['proc'] }[] = [];
const engines: TransferEngine[] = [];

beforeAll(async () => {
  await buildAgent();
  dir = await mkdtemp(join(tmpdir(), 'tsw-superseed-'));
  tracker = await startTracker();
});

afterAll(async () => {
  await stopAll(procs);
  for (const e of engines) await e.destroy();
  await tracker?.close();
  await rm(dir, { recursive: true, force: true });
});

async function startOrigin(artifact: Artifact, uploadLimitBytesPerSecond = 0): Promise<TransferEngine> {
  const engine = await TransferEngine.start({
    ...defaultTransferConfig,
    torrentPort: 0,
    uploadSlots: 8,
    maxConnsPerTorrent: 64,
    uploadLimitBytesPerSecond,
    dht: { ...defaultTransferConfig.dht, enabled: false, port: 0 },
    webSeed: { ...defaultTransferConfig.webSeed, enabled: false },
  });
  engines.push(engine);
  await engine.seed(artifact.torrentFile, dirname(artifact.path), { superSeed: { piecesPerPeer: 2 } });
  return engine;
}

/** A bare BitTorrent peer (no extensions) that records the pieces the other side shows. */
class RawPeer {
  readonly shown = new Set<number>();
  bitfieldBits = -1;
  private buffer = Buffer.alloc(0);
  private handshakeDone = false;
  private changed: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static async connect(port: number, infoHash: string): Promise<RawPeer> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const peer = new RawPeer(socket);
    const pstr = Buffer.from('BitTorrent protocol');
    socket.write(
      Buffer.concat([
        Buffer.from([pstr.length]),
        pstr,
        Buffer.alloc(8),
        Buffer.from(infoHash, 'hex'),
        Buffer.from('-TS0000-rawpeer00000'),
      ]),
    );
    return peer;
  }

  /** Tells the other side we now have `index` (message 4, HAVE). */
  have(index: number): void {
    const msg = Buffer.alloc(9);
    msg.writeUInt32BE(5, 0);
    msg[4] = 4;
    msg.writeUInt32BE(index, 5);
    this.socket.write(msg);
  }

  async until(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the seed');
      await new Promise<void>((resolve) => {
        this.changed = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.handshakeDone) {
      if (this.buffer.length < 68) return;
      this.buffer = this.buffer.subarray(68);
      this.handshakeDone = true;
    }
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (this.buffer.length < 4 + length) return;
      const id = length > 0 ? this.buffer[4] : undefined;
      const payload = this.buffer.subarray(5, 4 + length);
      if (id === 4) this.shown.add(payload.readUInt32BE(0));
      if (id === 5) {
        this.bitfieldBits = 0;
        for (let i = 0; i < payload.length * 8; i++) {
          if ((payload[i >> 3] ?? 0) & (0x80 >> (i & 7))) {
            this.bitfieldBits += 1;
            this.shown.add(i);
          }
        }
      }
      this.buffer = this.buffer.subarray(4 + length);
    }
    this.changed?.();
  }
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

  it('feeds a swarm of 4 agents that all install the image, each piece leaving the origin about once', async () => {
    const artifact = await makeArtifact(join(dir, 'swarm'), {
      fileName: 'swarm.img',
      sizeBytes: 8 * 1024 * 1024,
      announce: [tracker.announceUrl],
    });
    // A slow origin, fast agents: what the origin sends more than once is waste.
    const origin = await startOrigin(artifact, 1_000_000);
    const leechers = [1, 2, 3, 4].map((i) =>
      spawnFetch({ artifact, entryId: 'entry', dataDir: join(dir, `agent${i}`), seed: true }),
    );
    procs.push(...leechers);
    const installed = await Promise.all(
      leechers.map((l) => l.waitFor((e) => e.event === 'installed', 90_000)),
    );
    for (const e of installed) expect(await sha256File(String(e.path))).toBe(artifact.sha256);
    const sent = origin.stats()[0]?.uploadedBytes ?? 0;
    expect(sent).toBeGreaterThanOrEqual(artifact.info.sizeBytes * 0.9);
    expect(sent).toBeLessThan(artifact.info.sizeBytes * 1.5);
  }, 120_000);
});
