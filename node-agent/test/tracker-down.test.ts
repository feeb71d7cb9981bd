// Degraded mode "tracker down → DHT": the .torrent's only tracker refuses connections from
// the start, so agents can find the seeder and each other only through the site's DHT node
// (their configured bootstrap, never a public router). Every agent installs the image.

import { join } from 'node:path';
import { sha256File } from '@trustswarm/fetch';
import DHT from 'bittorrent-dht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/harness.js';
import { buildAgent } from './helpers/build.js';
import {
  closeSwarm,
  type FetchProcess,
  makeArtifact,
  openSwarm,
  preinstall,
  spawnFetch,
} from './helpers/swarm.js';

let dir: string;
let siteNode: DHT;
const procs: FetchProcess[] = [];

beforeAll(async () => {
  await buildAgent();
  ({ dir } = await openSwarm('tsw-tracker-down-'));
  siteNode = new DHT({ bootstrap: false });
  await new Promise<void>((resolve) => siteNode.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await closeSwarm({ dir }, { procs });
  await new Promise<void>((resolve) => siteNode?.destroy(() => resolve()));
});

describe('tracker down', () => {
  it('agents find the seeder and each other through the site DHT node and install the image', async () => {
    // a loopback port nothing listens on: the tracker is down for the whole test
    const deadTracker = `http://127.0.0.1:${await freePort()}/announce`;
    const artifact = await makeArtifact(join(dir, 'origin'), {
      fileName: 'image.qcow2',
      sizeBytes: 8 * 1024 * 1024,
      announce: [deadTracker],
    });
    const announced = new Map<string, Set<number>>();
    siteNode.on('announce', (peer, infoHash) => {
      const key = Buffer.from(infoHash).toString('hex');
      if (!announced.has(key)) announced.set(key, new Set());
      announced.get(key)?.add(peer.port);
    });
    const dhtSets = [
      'transfer.dht.enabled=true',
      'transfer.dht.port=0',
      `transfer.dht.bootstrap=[127.0.0.1:${siteNode.address().port}]`,
    ];

    const seederData = join(dir, 'seeder');
    await preinstall(seederData, 'entry-1', artifact);
    const seeder = spawnFetch({
      artifact,
      entryId: 'entry-1',
      dataDir: seederData,
      seed: true,
      sets: dhtSets,
    });
    procs.push(seeder);
    const seederStarted = await seeder.waitFor((e) => e.event === 'started');
    await seeder.waitFor((e) => e.event === 'seeding');

    const leechers = Array.from({ length: 3 }, (_, i) =>
      spawnFetch({
        artifact,
        entryId: 'entry-1',
        dataDir: join(dir, `agent-${i}`),
        seed: true,
        sets: dhtSets,
      }),
    );
    procs.push(...leechers);
    const installed = await Promise.all(
      leechers.map((p) => p.waitFor((e) => e.event === 'installed', 120_000)),
    );
    for (const e of installed) expect(await sha256File(String(e.path))).toBe(artifact.sha256);

    // Every agent announced itself to the site node: that is the only place they met.
    const ports = announced.get(artifact.info.infoHash) ?? new Set<number>();
    expect(ports.has(Number(seederStarted.port))).toBe(true);
    expect(ports.size).toBeGreaterThanOrEqual(4);
    // The seeder served them although no tracker ever answered.
    const served = await seeder.waitFor(
      (e) =>
        e.event === 'stats' && Number((e.transfers as { uploadedBytes?: number }[])[0]?.uploadedBytes) > 0,
    );
    expect(served.event).toBe('stats');
  }, 180_000);
});
