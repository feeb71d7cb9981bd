// The catalog server (approval, tracker and web seed in one) stops in the middle of a
// rollout: agents keep their last verified approval and finish from each other.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../demo/lib/processes.js';
import { agentConfig } from '../demo/lib/site.js';
import { approvedImage, installedPath, type Rollout, sha256OfFile, untilStatus } from './lib/rollout.js';

let r: Rollout;
beforeAll(async () => {
  r = await approvedImage(24);
}, 120_000);
afterAll(() => r?.cleanup());

describe('the catalog server stopped mid-rollout', () => {
  it('leaves agents to finish from each other with the last verified approval', async () => {
    const seeder = await startAgent('seeder', join(r.dir, 'seeder'), agentConfig(r.site, 'seeder'));
    await installedPath(seeder, r.imageId);

    const slow = {
      transfer: { webSeed: { enabled: false }, downloadLimitBytesPerSecond: 2 * 1024 * 1024 },
    };
    const agents: Agent[] = [];
    for (const name of ['hv1', 'hv2', 'hv3']) {
      agents.push(await startAgent(name, join(r.dir, name), agentConfig(r.site, name, slow)));
    }
    for (const agent of agents) {
      await untilStatus(agent, 'downloading from peers', 60_000, (s) => {
        const t = s.transfers[0];
        return t && t.progress > 0.05 && t.progress < 0.9 && t.conns > 0 ? t : undefined;
      });
    }
    await r.site.server.stop();
    await expect(fetch(`${r.site.server.url}/healthz`)).rejects.toThrow();

    for (const agent of agents) await agent.setRates({ downloadLimitBytesPerSecond: 0 });
    for (const agent of agents) {
      const path = await installedPath(agent, r.imageId, 120_000);
      expect(await sha256OfFile(path)).toBe(r.imageSha256);
      const status = await agent.status();
      // The approval they act on is still the verified one; the server is unreachable.
      expect(status.approval?.valid).toBe(true);
      expect(status.lastSync?.kind).toBe('unreachable');
    }
  }, 300_000);
});
