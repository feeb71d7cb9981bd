// The depth of a leecher's request queue per peer (patches/webtorrent@3.0.21.patch): between
// 1.5 and 3 s of that peer's measured rate, as libtorrent keeps (request_queue_time 3 s),
// instead of webtorrent's 0.5–1 s. Real webtorrent clients on 127.0.0.1; the seeder's upload is
// limited so that the leecher's rate from it is known and steady.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebTorrent from 'webtorrent';
import type { Torrent } from 'webtorrent';
import { bareClient, listeningPort, seedFile } from './helpers/bare-client.js';

const SIZE = 12 << 20;
const RATE = 1 << 20; // the seeder's upload limit, bytes per second
const BLOCK = 16 * 1024;
let dir: string;
const clients: WebTorrent[] = [];

beforeAll(async () => {
  ({ dir } = await seedFile('tsw-request-queue-', SIZE));
});

afterAll(async () => {
  for (const c of clients) await new Promise<void>((resolve) => c.destroy(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

interface WireView {
  requests: unknown[];
  downloadSpeed(): number;
}

describe('request queue per peer', () => {
  it('keeps 1.5–3 s of the peer’s rate requested', async () => {
    const seeder = bareClient();
    const leecher = bareClient();
    clients.push(seeder, leecher);
    seeder.throttleUpload(RATE);
    const port = await listeningPort(seeder);
    const seeded = await new Promise<Torrent>((resolve) => {
      seeder.seed(join(dir, 'seed', 'image.img'), { announce: [] }, resolve);
    });
    const { torrentFile } = seeded as unknown as { torrentFile: Uint8Array };
    const torrent = leecher.add(torrentFile, { path: join(dir, 'leech') });
    torrent.once('ready', () => torrent.addPeer(`127.0.0.1:${port}`));

    // Requests in flight, in seconds of the wire's measured rate, sampled every 50 ms once the
    // rate has settled (webtorrent's speedometer averages over a few seconds).
    const seconds: number[] = [];
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      torrent.once('error', reject);
      const timer = setInterval(() => {
        const wire = torrent.wires[0] as unknown as WireView | undefined;
        if (Date.now() - started > 4000 && wire && !torrent.done) {
          const speed = wire.downloadSpeed();
          if (speed > RATE / 2) seconds.push((wire.requests.length * BLOCK) / speed);
        }
        if (torrent.done || Date.now() - started > 11_000) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    expect(seconds.length).toBeGreaterThan(40);
    seconds.sort((a, b) => a - b);
    const median = seconds[Math.floor(seconds.length / 2)] as number;
    const most = seconds[seconds.length - 1] as number;
    // webtorrent's own queue (0.5–1 s plus 2 blocks) stays near or under 1 s all along.
    expect(median).toBeGreaterThan(1.4);
    expect(most).toBeGreaterThan(2.4);
    expect(most).toBeLessThan(3.6);
  }, 30_000);
});
