// A mirror (any HTTP cache between agents and the catalog server) replays an older, validly
// signed approval that still approves an entry the site has since revoked. Agents refuse
// the older version and do not bring the revoked image back.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../demo/lib/processes.js';
import { agentConfig } from '../demo/lib/site.js';
import { approvedImage, installedPath, type Rollout, untilStatus } from './lib/rollout.js';

let r: Rollout;
let mirror: Server;
beforeAll(async () => {
  r = await approvedImage(4);
}, 120_000);
afterAll(async () => {
  mirror?.close();
  await r?.cleanup();
});

/** A pass-through mirror that can be told to serve frozen copies of some paths. */
async function startMirror(upstream: () => string, frozen: Map<string, Buffer>): Promise<string> {
  mirror = createServer((req, res) => {
    const path = req.url ?? '/';
    const copy = frozen.get(path);
    if (copy) {
      res.writeHead(200, { 'content-length': copy.length, etag: `"frozen-${copy.length}"` });
      res.end(copy);
      return;
    }
    fetch(`${upstream()}${path}`, { headers: { 'if-none-match': req.headers['if-none-match'] ?? '' } })
      .then(async (up) => {
        const body = Buffer.from(await up.arrayBuffer());
        const etag = up.headers.get('etag');
        res.writeHead(up.status, etag ? { etag } : {});
        res.end(body);
      })
      .catch(() => {
        res.writeHead(502);
        res.end();
      });
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
}

describe('a mirror replaying an older approval', () => {
  it('is refused and the revoked image stays removed', async () => {
    const approvalPath = `/sites/${r.site.name}/approval.yaml`;
    const get = async (path: string) =>
      Buffer.from(await (await fetch(`${r.site.server.url}${path}`)).arrayBuffer());
    const old = new Map([
      [approvalPath, await get(approvalPath)],
      [`${approvalPath}.p7s`, await get(`${approvalPath}.p7s`)],
    ]);
    const replay = new Map<string, Buffer>();
    const mirrorUrl = await startMirror(() => r.site.server.url, replay);

    const agent = await startAgent(
      'hv0',
      join(r.dir, 'hv0'),
      agentConfig(r.site, 'hv0', {
        layoutUrl: mirrorUrl,
        lifecycle: { onRevoke: 'remove', graceSeconds: 0 },
      }),
    );
    await installedPath(agent, r.imageId);
    const v1 = (await agent.status()).approval?.version ?? 0;

    await r.site.revoke(r.catalog, r.imageId);
    await r.site.signApproval();
    await untilStatus(agent, 'revoked image removed', 60_000, (s) =>
      (s.approval?.version ?? 0) > v1 && s.installed.length === 0 ? true : undefined,
    );
    const v2 = (await agent.status()).approval?.version;

    for (const [path, bytes] of old) replay.set(path, bytes);
    const refused = await untilStatus(agent, 'replay refused', 30_000, (s) =>
      s.lastSync?.kind === 'refused' ? s.lastSync : undefined,
    );
    expect(refused.code).toMatch(/ROLLBACK|REPLAY|OLDER|VERSION/);
    // Several more polls against the replaying mirror change nothing.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const after = await agent.status();
    expect(after.approval?.version).toBe(v2);
    expect(after.installed).toEqual([]);
    expect(after.transfers).toEqual([]);
  }, 180_000);
});
