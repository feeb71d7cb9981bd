// A seeder whose copy of the image was altered on disk serves corrupt pieces: every agent
// rejects them, bans that peer, completes from the honest seeder, and installs exactly the
// endorsed bytes. Real processes: catalog server, four agents over BitTorrent.

import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../demo/lib/processes.js';
import { agentConfig } from '../demo/lib/site.js';
import { approvedImage, installedPath, type Rollout, sha256OfFile } from './lib/rollout.js';

let r: Rollout;
beforeAll(async () => {
  // The server's own seeder is off: the two agents are the only BitTorrent sources.
  r = await approvedImage(12, { seeder: { enabled: false } });
}, 120_000);
afterAll(() => r?.cleanup());

/** Overwrites every byte of a file in place, as an attacker with disk access would. */
async function tamper(path: string): Promise<void> {
  const { size } = await stat(path);
  const fh = await open(path, 'r+');
  try {
    await fh.write(Buffer.alloc(size, 0x5a), 0, size, 0);
  } finally {
    await fh.close();
  }
}

describe('a tampered artifact on one seeder', () => {
  it('is rejected piece by piece, the seeder banned, and the endorsed bytes installed', async () => {
    const seeders: Agent[] = [];
    for (const name of ['honest', 'tampered']) {
      const agent = await startAgent(name, join(r.dir, name), agentConfig(r.site, name));
      seeders.push(agent);
    }
    const [honest, tampered] = seeders as [Agent, Agent];
    await installedPath(honest, r.imageId);
    const tamperedPath = await installedPath(tampered, r.imageId);
    await tamper(tamperedPath);
    expect(await sha256OfFile(tamperedPath)).not.toBe(r.imageSha256);

    // No web seed: the new agents can only get pieces from the two seeding agents.
    const noWebSeed = { transfer: { webSeed: { enabled: false } } };
    const leechers: Agent[] = [];
    for (const name of ['hv2', 'hv3']) {
      leechers.push(await startAgent(name, join(r.dir, name), agentConfig(r.site, name, noWebSeed)));
    }
    for (const agent of leechers) {
      const path = await installedPath(agent, r.imageId);
      expect(await sha256OfFile(path)).toBe(r.imageSha256);
    }
    const bans = await Promise.all(leechers.map(async (a) => (await a.status()).bannedPeers));
    expect(bans.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    // Pieces mixed blocks from both seeders: only the one proven corrupt is banned.
    for (const n of bans) expect(n).toBeLessThanOrEqual(1);
  }, 180_000);
});
