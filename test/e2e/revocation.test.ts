// A revoked entry disappears from every agent and from CVMFS: the site admin revokes it, the
// server signs a new approval, each agent removes the installed image (grace 0, policy
// "remove") and runs its "removed" hook, and `tsw-bridge run` removes the published path.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent, waitFor } from '../demo/lib/processes.js';
import { agentConfig, makeSnapshot, signAndPublish, startBridge } from '../demo/lib/site.js';
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

describe('a revoked repo snapshot', () => {
  it('disappears from the CVMFS repository that tsw-bridge run publishes', async () => {
    const repo = 'sw.example.org';
    const snapshotDir = join(r.dir, 'cms-14.0.0');
    await makeSnapshot(snapshotDir);
    const { alice } = r.site.pki.endorsers;
    await r.site.endorse(alice, [
      'add',
      'repo-snapshot',
      snapshotDir,
      '--name',
      'cms-sw',
      '--entry-version',
      '14.0.0',
      '--repository',
      repo,
      '--path',
      '/cms/14.0.0',
    ]);
    const catalog = await signAndPublish(r.site, [alice]);
    const snapshot = catalog.entries.find((e) => e.kind === 'repo-snapshot');
    if (!snapshot) throw new Error('the catalog lacks the snapshot');
    await r.site.approve(catalog, snapshot.id);
    await r.site.signApproval();

    const bridge = await startBridge(r.site, join(r.dir, 'bridge'), repo);
    await bridge.waitFor('/cms/14.0.0/README', 90_000);
    const readme = await bridge.cli(['repo', 'cat', repo, '/cms/14.0.0/README']);
    expect(readme.trim()).toBe((await readFile(join(snapshotDir, 'README'), 'utf8')).trim());

    await r.site.revoke(catalog, snapshot.id);
    await r.site.signApproval();
    await bridge.waitForGone('/cms/14.0.0/README', 60_000);
    // The removal is a new, verified revision: the reader checks it as a client would.
    await bridge.cli(['repo', 'verify', repo]);
    // The entry's path goes; its parent directory /cms stays (other entries may share it).
    const listing = await bridge.cli(['repo', 'ls', repo, '/cms']);
    expect(listing).not.toMatch(/14\.0\.0/);
  }, 240_000);
});
