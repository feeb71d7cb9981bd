import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../src/errors.js';
import { objectPath } from '../src/format/hash.js';
import { parseWhitelist } from '../src/format/whitelist.js';
import { LocalFetcher } from '../src/reader/fetcher.js';
import { RepositoryReader } from '../src/reader/reader.js';
import { verifyRevision } from '../src/reader/verify-all.js';
import { changeTags, listTags, resignWhitelist } from '../src/repo/admin.js';
import { collectGarbage } from '../src/repo/gc.js';
import { withTransaction } from '../src/writer/publish.js';
import { createTestRepo, type TestRepo } from './helpers.js';

let t: TestRepo | undefined;
afterEach(() => t?.cleanup());

async function readAt(t: TestRepo, rootHash: string, path: string): Promise<string> {
  const reader = await RepositoryReader.open(new LocalFetcher(t.repo.layout.publicDir), {
    fqrn: t.repo.fqrn,
    masterPublicKeysPem: [t.repo.masterPublicKey()],
    rootHash,
  });
  try {
    await verifyRevision(reader);
    return (await reader.readFile(path)).toString();
  } finally {
    reader.close();
  }
}

describe('named tags', () => {
  it('tags on publish and by command, lists and removes them', async () => {
    t = createTestRepo();
    const r2 = await withTransaction(t.repo, async (tx) => tx.addFile('/f', Buffer.from('v1')), {
      tag: { name: 'v1', description: 'first' },
    });
    await withTransaction(t.repo, async (tx) => tx.addFile('/f', Buffer.from('v2')));
    changeTags(t.repo, { add: { name: 'latest' } });
    const tags = listTags(t.repo);
    expect(tags.map((x) => [x.name, x.revision])).toEqual([
      ['v1', 2],
      ['latest', 3],
    ]);
    expect(tags[0]).toMatchObject({ rootHash: r2.rootCatalogHash, description: 'first' });
    expect(await readAt(t, r2.rootCatalogHash, '/f')).toBe('v1');
    changeTags(t.repo, { remove: 'v1' });
    expect(listTags(t.repo).map((x) => x.name)).toEqual(['latest']);
    expect(() => changeTags(t?.repo as never, { remove: 'nope' })).toThrow(/does not exist/);
    expect(() => changeTags(t?.repo as never, { add: { name: 'bad name!' } })).toThrow(/tag name/);
  });
});

describe('whitelist re-signing', () => {
  it('re-signs only when expiry is near, and a re-signed whitelist verifies', async () => {
    t = createTestRepo({ whitelistDays: 5 });
    const before = parseWhitelist(readFileSync(t.repo.layout.whitelistFile)).whitelist.expiresAt;
    expect(resignWhitelist(t.repo, { onlyWithinDays: 2 }).resigned).toBe(false);
    const later = new Date(Date.now() + 4 * 86_400_000);
    const result = resignWhitelist(t.repo, { onlyWithinDays: 2, days: 30, now: later });
    expect(result.resigned).toBe(true);
    expect(result.expiresAt.getTime()).toBeGreaterThan(before.getTime());
    const reader = await t.reader({ now: new Date(Date.now() + 10 * 86_400_000) });
    expect(reader.trusted.whitelist.expiresAt.getTime()).toBe(
      Math.floor(result.expiresAt.getTime() / 1000) * 1000,
    );
    reader.close();
  });
});

describe('garbage collection', () => {
  it('deletes unreferenced objects, keeps tagged and recent revisions', async () => {
    t = createTestRepo();
    const tagged = await withTransaction(
      t.repo,
      async (tx) => tx.addFile('/f', Buffer.from('tagged content')),
      { tag: { name: 'keep' } },
    );
    const middle = await withTransaction(t.repo, async (tx) =>
      tx.addFile('/f', Buffer.from('middle content')),
    );
    const reader = await t.reader();
    const middleHash = (await reader.lookup('/f'))?.hash as string;
    reader.close();
    await withTransaction(t.repo, async (tx) => tx.addFile('/f', Buffer.from('current content')));

    // Within the grace period nothing is deleted.
    const dry = collectGarbage(t.repo, { graceSeconds: 3600 });
    expect(dry.objectsDeleted).toBe(0);

    const report = collectGarbage(t.repo, { graceSeconds: 0, now: new Date(Date.now() + 5000) });
    expect(report.objectsDeleted).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(t.repo.layout.publicDir, objectPath(middleHash)))).toBe(false);
    expect(existsSync(join(t.repo.layout.publicDir, objectPath(middle.rootCatalogHash, 'C')))).toBe(false);
    expect(await readAt(t, tagged.rootCatalogHash, '/f')).toBe('tagged content');
    expect(await readAt(t, t.repo.manifest().rootCatalogHash, '/f')).toBe('current content');

    // The content cache forgot deleted objects: republishing old content stores it again.
    await withTransaction(t.repo, async (tx) => tx.addFile('/g', Buffer.from('middle content')));
    const after = await t.reader();
    try {
      expect((await after.readFile('/g')).toString()).toBe('middle content');
      await verifyRevision(after);
    } finally {
      after.close();
    }
  });

  it('refuses while another writer holds the lock', async () => {
    t = createTestRepo();
    const repo = t.repo;
    let error: unknown;
    await withTransaction(repo, async () => {
      try {
        collectGarbage(repo, { graceSeconds: 0 });
      } catch (e) {
        error = e;
      }
    });
    expect(isBridgeError(error, 'REPO_LOCKED')).toBe(true);
  });
});
