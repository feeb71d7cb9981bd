// One owner per public image path, with a real registry: two wishlists naming one tag (the
// second is refused with TAG_CONFLICT, the rest of it converts, an image.error event names the
// refusal, and the tag passes to it once the first drops it; a webhook for it is not retried),
// and the upgrade from state that
// recorded wishlist images but no owners (each wishlist's first apply takes its recorded paths;
// before that nobody else may take them; a tag two wishlists had recorded goes to the first
// applied, and the other's removal never touches it).
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContainerConfig, defaultContainerConfig } from '../../src/containers/config.js';
import { convertImage } from '../../src/containers/convert.js';
import type { ProgressEvent } from '../../src/containers/events.js';
import { approvedOwner, openState, operatorOwner } from '../../src/containers/state.js';
import { serveWebhooks } from '../../src/containers/webhook-service.js';
import { applyWishlist, parseWishlist } from '../../src/containers/wishlist.js';
import { createTestRepo, type TestRepo, tempDir } from '../helpers.js';
import { gzipLayer, pushRaw } from './images.js';
import { type RunningRegistry, startRegistry } from './registry.js';

describe('one owner per public image path', () => {
  let work: string;
  let registry: RunningRegistry;
  let t: TestRepo;
  let config: ContainerConfig;
  const FQRN = 'owners.test.org';

  const ref = (repository: string, tag: string) => `${registry.host}/${repository}:${tag}`;
  const wishlist = (user: string, references: string[]) =>
    parseWishlist(
      `version: 1\nuser: ${user}\ncvmfs_repo: ${FQRN}\ninput: ${JSON.stringify(references.map((r) => `http://${r}`))}\n`,
    );
  const apply = (user: string, references: string[], events?: ProgressEvent[]) =>
    applyWishlist(wishlist(user, references), {
      config,
      stateDir: t.settings.stateDir,
      openRepo: () => t.repo,
      ...(events ? { onEvent: (e: ProgressEvent) => events.push(e) } : {}),
    });
  const push = async (repository: string, tag: string, content: string) =>
    (await pushRaw(registry.url, repository, tag, [await gzipLayer([{ name: 'who', content }])])).digest;
  const owner = (reference: string) => {
    const state = openState(t.settings.stateDir, FQRN);
    try {
      return state.ownerOf(FQRN, `/${reference}`)?.owner;
    } finally {
      state.close();
    }
  };

  /** The `who` file of a tag's image, read back through the CVMFS reader. */
  async function who(reference: string): Promise<string | undefined> {
    const reader = await t.reader();
    try {
      const link = await reader.lookup(`/${reference}`);
      if (link?.kind !== 'symlink' || !link.symlink) return undefined;
      const flat = posix.normalize(posix.join(posix.dirname(`/${reference}`), link.symlink));
      return (await reader.readFile(`${flat}/who`)).toString();
    } finally {
      reader.close();
    }
  }

  beforeAll(async () => {
    work = tempDir('tsw-containers-owners-');
    t = createTestRepo({}, FQRN);
    registry = await startRegistry({ dir: join(work, 'registry') });
    config = defaultContainerConfig({});
  });

  afterAll(async () => {
    await registry?.stop();
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('two wishlists on one tag: the second is refused, the rest of it converts; it takes the tag once the first drops it', async () => {
    await push('two/shared', 'v1', 'shared\n');
    await push('two/own', 'v1', 'own\n');
    const shared = ref('two/shared', 'v1');
    const first = await apply('first', [shared]);
    expect(first).toMatchObject({ converted: [shared], failed: [] });
    const events: ProgressEvent[] = [];
    const second = await apply('second', [shared, ref('two/own', 'v1')], events);
    expect(second.failed).toEqual([
      { reference: shared, code: 'TAG_CONFLICT', message: `${FQRN}:/${shared} is owned by wishlist:first` },
    ]);
    expect(second.converted).toEqual([ref('two/own', 'v1')]);
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'image.error', reference: shared, code: 'TAG_CONFLICT' }),
    );
    expect(owner(shared)).toBe('wishlist:first');
    // The second wishlist recorded nothing for the tag: dropping it there removes nothing.
    const dropped = await apply('second', [ref('two/own', 'v1')]);
    expect(dropped).toMatchObject({ removed: [], failed: [] });
    expect(await who(shared)).toBe('shared\n');
    // The owner drops it: removed, released; the second wishlist's next apply takes it.
    expect(await apply('first', [])).toMatchObject({ removed: [shared], failed: [] });
    expect(await who(shared)).toBeUndefined();
    expect(owner(shared)).toBeUndefined();
    const taken = await apply('second', [shared, ref('two/own', 'v1')]);
    expect(taken).toMatchObject({ converted: [shared], unchanged: [ref('two/own', 'v1')], failed: [] });
    expect(owner(shared)).toBe('wishlist:second');
    expect(await who(shared)).toBe('shared\n');
  });

  it('a webhook for a tag another wishlist owns is refused once, not retried', async () => {
    const shared = ref('two/shared', 'v1'); // wishlist:second owns it (the test above)
    const file = join(work, 'hooked.yaml');
    writeFileSync(file, `version: 1\nuser: hooked\ncvmfs_repo: ${FQRN}\ninput: ['http://${shared}']\n`);
    const token = 'owners-webhook-secret-0123456789';
    const service = await serveWebhooks({
      config: defaultContainerConfig({
        webhookToken: token,
        webhookPort: 0,
        wishlists: [file],
        reconcileIntervalSeconds: 0,
      }),
      stateDir: t.settings.stateDir,
      openRepo: () => t.repo,
      pollMilliseconds: 100,
      settleMilliseconds: 0,
    });
    try {
      const res = await fetch(`${service.url}/webhooks/registry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          events: [
            {
              action: 'push',
              target: {
                repository: 'two/shared',
                tag: 'v1',
                mediaType: 'application/vnd.oci.image.manifest.v1+json',
                url: `http://${registry.host}/v2/two/shared/manifests/v1`,
              },
            },
          ],
        }),
      });
      expect(res.status).toBe(202);
      await service.drain();
      // Done, with no error recorded and nothing scheduled again: the conflict is permanent
      // until the owner lets go, and reconciliation picks the tag up then.
      const health = (await (await fetch(`${service.url}/healthz`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ pending: 0 });
      expect(health.lastError).toBeUndefined();
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toMatch(/tsw_bridge_container_rejections_total\{code="TAG_CONFLICT"\} [1-9]/);
      expect(owner(shared)).toBe('wishlist:second');
      expect(await who(shared)).toBe('shared\n');
    } finally {
      await service.close();
    }
  });

  it("an operator command's hold refuses others while it runs; one whose process died is taken over", async () => {
    await push('two/held', 'v1', 'held\n');
    const held = ref('two/held', 'v1');
    const state = openState(t.settings.stateDir, FQRN);
    state.claim(FQRN, `/${held}`, operatorOwner(), held); // this process: alive
    const refused = await apply('fourth', [held]);
    expect(refused.failed).toEqual([
      {
        reference: held,
        code: 'TAG_CONFLICT',
        message: `${FQRN}:/${held} is owned by operator:${process.pid}`,
      },
    ]);
    state.release(FQRN, `/${held}`, operatorOwner());
    const dead = spawnSync(process.execPath, ['-e', '0']).pid; // exited: its pid is free
    state.claim(FQRN, `/${held}`, operatorOwner(dead), held);
    state.close();
    expect(await apply('fourth', [held])).toMatchObject({ converted: [held], failed: [] });
    expect(owner(held)).toBe('wishlist:fourth');
  });

  it('a conversion that fails gives its fresh claim back', async () => {
    // No such repository in the registry: the conversion fails (NOT_FOUND drops it from the
    // list); the path must not stay claimed and block another source.
    const missing = ref('two/missing', 'v1');
    const report = await apply('third', [missing]);
    expect(report).toMatchObject({ converted: [], failed: [] });
    expect(owner(missing)).toBeUndefined();
  });

  it('upgrade: records from before owners seed each wishlist on its first apply; nobody else takes them first', async () => {
    // State as the converter left it before owners were recorded: images converted, the
    // wishlists' records, no owners table.
    await push('old/app', 'v1', 'app v1\n');
    await push('old/app', 'v2', 'app v2\n');
    await push('old/extra', 'v1', 'extra\n');
    const v1 = ref('old/app', 'v1');
    const v2 = ref('old/app', 'v2');
    const upgradeRepo = 'upgrade.test.org';
    const u = createTestRepo({}, upgradeRepo);
    for (const reference of [v1, v2]) await convertImage({ reference }, { repo: u.repo, config });
    const dir = join(u.settings.stateDir, upgradeRepo);
    mkdirSync(dir, { recursive: true });
    const old = new Database(join(dir, 'containers.db'));
    old.exec(`
      CREATE TABLE gc_unreferenced (path TEXT PRIMARY KEY, since INTEGER NOT NULL);
      CREATE TABLE wishlist_images (wishlist TEXT NOT NULL, fqrn TEXT NOT NULL, image TEXT NOT NULL,
        PRIMARY KEY (wishlist, fqrn, image));
      CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL,
        source TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0, last_error TEXT, done_at INTEGER);`);
    const record = old.prepare('INSERT INTO wishlist_images (wishlist, fqrn, image) VALUES (?, ?, ?)');
    record.run('old', upgradeRepo, v1);
    record.run('old', upgradeRepo, v2);
    record.run('rival', upgradeRepo, v2); // both had it: the last conversion won, back then
    old.close();

    const owners = () => {
      const state = openState(u.settings.stateDir, upgradeRepo);
      try {
        return Object.fromEntries(state.owners(upgradeRepo));
      } finally {
        state.close();
      }
    };
    const applyTo = (user: string, references: string[]) =>
      applyWishlist(wishlist(user, references), {
        config,
        stateDir: u.settings.stateDir,
        openRepo: () => u.repo,
        repoOverride: upgradeRepo,
      });
    // Before the wishlist is applied again, nobody else may take what it recorded.
    const state = openState(u.settings.stateDir, upgradeRepo);
    expect(() => state.claim(upgradeRepo, `/${v1}`, approvedOwner('e-1'), v1)).toThrow(
      expect.objectContaining({
        code: 'TAG_CONFLICT',
        message: `${upgradeRepo}:/${v1} is owned by wishlist:old (recorded before owners were; applying that wishlist settles it)`,
      }),
    );
    state.close();
    expect(owners()).toEqual({});
    // Its first apply takes its recorded paths (nothing converted again: same images).
    const seeded = await applyTo('old', [v1, v2]);
    expect(seeded).toMatchObject({ unchanged: [v1, v2], converted: [], failed: [] });
    expect(owners()).toEqual({ [`/${v1}`]: 'wishlist:old', [`/${v2}`]: 'wishlist:old' });
    // The rival that had recorded v2 too is refused it, and its removal never touches it.
    const rival = await applyTo('rival', [v2, ref('old/extra', 'v1')]);
    expect(rival.failed).toEqual([
      { reference: v2, code: 'TAG_CONFLICT', message: `${upgradeRepo}:/${v2} is owned by wishlist:old` },
    ]);
    expect(rival.converted).toEqual([ref('old/extra', 'v1')]);
    const rivalDrops = await applyTo('rival', []);
    expect(rivalDrops).toMatchObject({ removed: [ref('old/extra', 'v1')], failed: [] });
    const reader = await u.reader();
    try {
      expect((await reader.lookup(`/${v2}`))?.kind).toBe('symlink');
    } finally {
      reader.close();
    }
    expect(owners()).toEqual({ [`/${v1}`]: 'wishlist:old', [`/${v2}`]: 'wishlist:old' });
    // Seeding ran once: the owner dropping v2 releases it for good.
    expect(await applyTo('old', [v1])).toMatchObject({ removed: [v2], failed: [] });
    expect(owners()).toEqual({ [`/${v1}`]: 'wishlist:old' });
    expect(() => {
      const s = openState(u.settings.stateDir, upgradeRepo);
      try {
        s.claim(upgradeRepo, `/${v1}`, approvedOwner('e-1'), v1);
      } finally {
        s.close();
      }
    }).toThrow(expect.objectContaining({ message: `${upgradeRepo}:/${v1} is owned by wishlist:old` }));
    u.cleanup();
  }, 120_000);
});
