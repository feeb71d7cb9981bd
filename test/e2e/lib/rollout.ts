// Shared by the rollout scenarios: a site with one published and approved VM image, and
// small waits on what agents report through their status API.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type Agent, type AgentStatusView, stopAll, waitFor } from '../../demo/lib/processes.js';
import { addImage, type CatalogView, type Site, signAndPublish, startSite } from '../../demo/lib/site.js';

export interface Rollout {
  dir: string;
  site: Site;
  catalog: CatalogView;
  imageId: string;
  imageSha256: string;
  imageBytes: number;
  cleanup(): Promise<void>;
}

/** A site whose catalog holds one VM image of `mib` MiB, approved and signed. */
export async function approvedImage(mib: number, serverConfig?: Record<string, unknown>): Promise<Rollout> {
  const dir = await mkdtemp(join(tmpdir(), 'tsw-e2e-'));
  const site = await startSite(dir, {
    name: 'E2E-SITE',
    threshold: 1,
    ...(serverConfig ? { serverConfig } : {}),
  });
  const { alice } = site.pki.endorsers;
  await site.endorse(alice, ['catalog', 'new', 'e2e']);
  const imageBytes = mib * 1024 * 1024;
  const { sha256 } = await addImage(site, join(dir, 'image.qcow2'), imageBytes);
  const catalog = await signAndPublish(site, [alice]);
  const imageId = catalog.entries[0]?.id;
  if (!imageId) throw new Error('published catalog has no entry');
  await site.approve(catalog, imageId);
  await site.signApproval();
  return {
    dir,
    site,
    catalog,
    imageId,
    imageSha256: sha256,
    imageBytes,
    cleanup: async () => {
      await stopAll();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Polls an agent's status until `test` returns a value (not undefined). */
export function untilStatus<T>(
  agent: Agent,
  what: string,
  timeoutMs: number,
  test: (s: AgentStatusView) => T | undefined,
): Promise<T> {
  return waitFor(`${agent.name}: ${what}`, timeoutMs, async () => test(await agent.status()));
}

export function installedPath(agent: Agent, entryId: string, timeoutMs = 90_000): Promise<string> {
  return untilStatus(
    agent,
    `entry ${entryId} installed`,
    timeoutMs,
    (s) => s.installed.find((e) => e.entryId === entryId)?.path,
  );
}
