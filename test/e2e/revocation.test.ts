// A revoked entry disappears from every agent: the site admin revokes it, the server signs
// a new approval, and each agent removes the installed image (grace 0, policy "remove")
// and runs its "removed" hook.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent, waitFor } from '../demo/lib/processes.js';
import { agentConfig } from '../demo/lib/site.js';
import { approvedImage, installedPath, type Rollout, untilStatus } from './lib/rollout.js';

let r: Rollout;
beforeAll(async () => {
  r = await approvedImage(8);
}, 120_000);
afterAll(() => r?.cleanup());

describe('a revoked entry', () => {
  it('is removed from every agent, with the removed hook run', async () => {
    const agents: Agent[] = [];
    for (const name of ['hv0', 'hv1', 'hv2']) {
      const hookLog = join(r.dir, `${name}-removed.log`);
      const config = agentConfig(r.site, name, {
        lifecycle: { onRevoke: 'remove', graceSeconds: 0 },
        hooks: { removed: [['sh', '-c', `echo "$TSW_ENTRY_ID" >> ${hookLog}`]] },
      });
      agents.push(await startAgent(name, join(r.dir, name), config));
    }
    const paths: string[] = [];
    for (const agent of agents) paths.push(await installedPath(agent, r.imageId));
    const before = (await agents[0]?.status())?.approval?.version ?? 0;

    await r.site.revoke(r.catalog, r.imageId);
    await r.site.signApproval();

    for (const [i, agent] of agents.entries()) {
      await untilStatus(agent, 'image removed', 60_000, (s) =>
        (s.approval?.version ?? 0) > before && !s.installed.some((e) => e.entryId === r.imageId)
          ? true
          : undefined,
      );
      expect(existsSync(paths[i] as string)).toBe(false);
      const hookLog = join(r.dir, `${agent.name}-removed.log`);
      const logged = await waitFor('the removed hook', 10_000, async () =>
        existsSync(hookLog) ? (await readFile(hookLog, 'utf8')).trim() || undefined : undefined,
      );
      expect(logged).toBe(r.imageId);
    }
  }, 240_000);
});
