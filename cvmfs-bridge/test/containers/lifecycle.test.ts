// The life of published images with a real registry sending real notifications: webhook push
// → conversion, tag move, registry deletion, wishlist removal, GC with a grace period, a wrong
// token refused, a lost webhook repaired by reconciliation, and the outbox surviving a restart.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContainerConfig, defaultContainerConfig } from '../../src/containers/config.js';
import { collectContainerGarbage } from '../../src/containers/gc.js';
import { ContainerState } from '../../src/containers/state.js';
import { serveWebhooks, type WebhookService } from '../../src/containers/webhook-service.js';
import { applyWishlistFile } from '../../src/containers/wishlist.js';
import { verifyRevision } from '../../src/reader/verify-all.js';
import { createTestRepo, type TestRepo, tempDir } from '../helpers.js';
import { gzipLayer, pushRaw } from './images.js';
import { freePort, type RunningRegistry, startRegistry } from './registry.js';

const TOKEN = 'webhook-secret-0123456789abcdef';

describe('image lifecycle: webhooks, tag moves, deletion, reconciliation, GC', () => {
  let work: string;
  let loud: RunningRegistry; // sends notifications to the service
  let quiet: RunningRegistry; // sends none: only reconciliation sees its changes
  let service: WebhookService;
  let t: TestRepo;
  let config: ContainerConfig;
  let wishlistFile: string;

  const writeWishlist = (inputs: string[]) =>
    writeFileSync(
      wishlistFile,
      [
        'version: 1',
        'user: lifecycle',
        'cvmfs_repo: life.test.org',
        inputs.length === 0 ? 'input: []' : 'input:',
        ...inputs.map((i) => `  - '${i}'`),
        '',
      ].join('\n'),
    );

  const start = () =>
    serveWebhooks({
      config,
      stateDir: t.settings.stateDir,
      openRepo: () => t.repo,
      pollMilliseconds: 100,
    });

  async function pushImage(registry: RunningRegistry, repo: string, tag: string, content: string) {
    const base = await gzipLayer([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/base', content: 'base\n' },
    ]);
    const top = await gzipLayer([{ name: 'app', content }]);
    return pushRaw(registry.url, repo, tag, [base, top]);
  }

  /** Reads a path as a client would, following symlinks in its directory part (relative ones). */
  async function read(path: string): Promise<string | undefined> {
    const reader = await t.reader();
    try {
      let resolved = '';
      const parts = path.split('/').filter(Boolean);
      for (let i = 0; i < parts.length; i++) {
        const next = `${resolved}/${parts[i]}`;
        const d = await reader.lookup(next);
        if (!d) return undefined;
        if (d.kind === 'symlink' && i < parts.length - 1) {
          const segments = resolved.split('/').filter(Boolean);
          for (const s of (d.symlink ?? '').split('/')) {
            if (s === '..') segments.pop();
            else if (s !== '.' && s !== '') segments.push(s);
          }
          resolved = `/${segments.join('/')}`;
        } else resolved = next;
      }
      const d = await reader.lookup(resolved);
      if (!d) return undefined;
      if (d.kind === 'symlink') return `-> ${d.symlink}`;
      if (d.kind === 'dir') return 'dir';
      return (await reader.readFile(resolved)).toString();
    } finally {
      reader.close();
    }
  }

  async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) {
        const health = await (await fetch(`${service.url}/healthz`)).text();
        throw new Error(`timed out waiting for ${what}; service: ${health}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    work = tempDir('tsw-containers-life-');
    t = createTestRepo({}, 'life.test.org');
    quiet = await startRegistry({ dir: join(work, 'quiet') });
    wishlistFile = join(work, 'wishlist.yaml');
    config = defaultContainerConfig({
      webhookToken: TOKEN,
      webhookPort: await freePort(), // fixed: the registry keeps notifying it across restarts
      wishlists: [wishlistFile],
      reconcileIntervalSeconds: 0,
    });
    loud = await startRegistry({
      dir: join(work, 'loud'),
      notify: { url: `http://127.0.0.1:${config.webhookPort}/webhooks/registry`, token: TOKEN },
    });
    writeWishlist([`http://${loud.host}/life/app:v*`, `http://${quiet.host}/life/lost:*`]);
    service = await start();
  });

  afterAll(async () => {
    await service?.close();
    await loud?.stop();
    await quiet?.stop();
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('refuses webhooks with a wrong or missing token or an invalid body, and queues nothing', async () => {
    const body = JSON.stringify({
      events: [
        { action: 'push', target: { repository: 'life/app', tag: 'v9', url: `http://${loud.host}/v2/x` } },
      ],
    });
    for (const authorization of ['Bearer wrong-token-0123456789', TOKEN.slice(1), undefined]) {
      const res = await fetch(`${service.url}/webhooks/registry`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      });
      expect(res.status).toBe(401);
    }
    const harbor = await fetch(`${service.url}/webhooks/harbor`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', authorization: 'not-the-secret' },
    });
    expect(harbor.status).toBe(401);
    const invalid = await fetch(`${service.url}/webhooks/registry`, {
      method: 'POST',
      body: '{"not": "events"}',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    });
    expect(invalid.status).toBe(400);
    const garbage = await fetch(`${service.url}/webhooks/registry`, {
      method: 'POST',
      body: 'not json',
      headers: {
        'content-type': 'application/vnd.docker.distribution.events.v1+json',
        authorization: `Bearer ${TOKEN}`,
      },
    });
    expect(garbage.status).toBe(400);
    const health = (await (await fetch(`${service.url}/healthz`)).json()) as { pending: number };
    expect(health.pending).toBe(0);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(
      /tsw_bridge_container_webhook_events_total\{source="registry",outcome="unauthorized"\} 3/,
    );
  });

  it('converts an image when the registry notifies a push, and follows a tag move', async () => {
    await pushImage(loud, 'life/app', 'v1', 'first\n');
    const link = `/${loud.host}/life/app:v1`;
    await waitFor('v1 published', async () => (await read(`${link}/app`)) === 'first\n');
    const firstTarget = await read(link);
    await pushImage(loud, 'life/app', 'v1', 'second\n');
    await waitFor('v1 moved', async () => (await read(`${link}/app`)) === 'second\n');
    expect(await read(link)).not.toBe(firstTarget);
    // the old flat tree stays until GC
    expect(firstTarget).toMatch(/^-> \.\.\/\.\.\/\.flat\//);
    expect(await read(`${(firstTarget as string).replace('-> ../..', '')}/app`)).toBe('first\n');
  }, 200_000);

  it('accepts a Harbor PUSH_ARTIFACT payload with the bare shared secret', async () => {
    await pushImage(quiet, 'life/lost', 'h1', 'harbor\n');
    const res = await fetch(`${service.url}/webhooks/harbor`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: TOKEN },
      body: JSON.stringify({
        type: 'PUSH_ARTIFACT',
        occur_at: 1700000000,
        operator: 'admin',
        event_data: {
          resources: [{ tag: 'h1', resource_url: `${quiet.host}/life/lost:h1` }],
          repository: { name: 'lost', namespace: 'life', repo_full_name: 'life/lost', repo_type: 'private' },
        },
      }),
    });
    expect(res.status).toBe(202);
    await service.drain();
    expect(await read(`/${quiet.host}/life/lost:h1/app`)).toBe('harbor\n');
  });

  it('repairs a lost webhook by reconciliation', async () => {
    await pushImage(quiet, 'life/lost', 'v1', 'no webhook\n');
    await service.drain();
    expect(await read(`/${quiet.host}/life/lost:v1/app`)).toBeUndefined();
    await service.reconcile();
    expect(await read(`/${quiet.host}/life/lost:v1/app`)).toBe('no webhook\n');
  });

  it('removes a tag deleted from the registry (delete notification)', async () => {
    const { digest } = await pushImage(loud, 'life/app', 'v2', 'to delete\n');
    await waitFor(
      'v2 published',
      async () => (await read(`/${loud.host}/life/app:v2/app`)) === 'to delete\n',
    );
    const del = await fetch(`${loud.url}/v2/life/app/manifests/${digest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    await waitFor('v2 removed', async () => (await read(`/${loud.host}/life/app:v2`)) === undefined);
    expect(await read(`/${loud.host}/life/app:v1/app`)).toBe('second\n');
  }, 200_000);

  it('processes events stored before a restart (durable outbox)', async () => {
    await service.close();
    await pushImage(quiet, 'life/lost', 'v2', 'after restart\n');
    const outbox = new ContainerState(join(t.settings.stateDir, 'containers-webhooks'));
    outbox.enqueue(
      'registry',
      JSON.stringify({ registry: quiet.host, repository: 'life/lost', action: 'push', tag: 'v2' }),
    );
    outbox.close();
    service = await start();
    await service.drain();
    expect(await read(`/${quiet.host}/life/lost:v2/app`)).toBe('after restart\n');
  });

  it('drops images that leave the wishlist, then GC frees their trees after the grace period', async () => {
    writeWishlist([`http://${loud.host}/life/app:v*`]);
    const report = await applyWishlistFile(wishlistFile, {
      config,
      stateDir: t.settings.stateDir,
      openRepo: () => t.repo,
    });
    expect(report.removed.sort()).toEqual(
      [`${quiet.host}/life/lost:h1`, `${quiet.host}/life/lost:v1`, `${quiet.host}/life/lost:v2`].sort(),
    );
    expect(await read(`/${quiet.host}/life/lost:v1`)).toBeUndefined();
    const now = Date.now();
    const first = await collectContainerGarbage(t.repo, { config, graceSeconds: 3600, now: () => now });
    expect(first.removed).toEqual([]);
    expect(first.pending.length).toBeGreaterThan(0);
    const later = await collectContainerGarbage(t.repo, {
      config,
      graceSeconds: 3600,
      now: () => now + 3601_000,
    });
    expect(later.removed.sort()).toEqual(first.pending.sort());
    // What v1 still uses survived; the removed flat trees are gone; the revision verifies.
    expect(await read(`/${loud.host}/life/app:v1/app`)).toBe('second\n');
    expect(later.removed.some((p) => p.includes('/.flat/'))).toBe(true);
    for (const p of later.removed) expect(await read(p)).toBeUndefined();
    const reader = await t.reader();
    try {
      await verifyRevision(reader);
    } finally {
      reader.close();
    }
  });
});
