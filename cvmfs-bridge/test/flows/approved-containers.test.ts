// Approved container-image entries → CVMFS through `tsw-bridge run`: a signed site approves
// `oci: {reference, digest}` entries; images built with umoci and pushed with skopeo into a
// real docker-registry are converted into the repository's DUCC layout, and the flat tree
// equals `umoci unpack` of the same image. An entry whose signed digest is not what the
// registry's tag names is refused and nothing is published; a restart converts nothing again;
// a revoked entry's tag disappears, and its trees are collected (grace 0 here) while nothing
// referenced is (a GC runs every second: the restart test's revision would move).
// One owner per public image path: an approved entry's tag refuses a wishlist naming it
// (TAG_CONFLICT, the signed image unchanged), a wishlist's tag refuses an approved entry until
// the wishlist drops it (then the next poll publishes it), a wishlist's removal never takes an
// approved image, and a revoked entry never takes a path a wishlist owns.
import { createHash, randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { CatalogEntry } from '@trustswarm/policy';
import { createTestPki, type TestPki } from '@trustswarm/policy/testing';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContainerConfig } from '../../src/containers/config.js';
import { openState } from '../../src/containers/state.js';
import { applyWishlist, parseWishlist } from '../../src/containers/wishlist.js';
import { FlowState } from '../../src/flows/state.js';
import type { RepositoryReader } from '../../src/reader/reader.js';
import type { Repository } from '../../src/repo/repository.js';
import { type BuiltImages, buildTestImages, unpackReference } from '../containers/fixture.js';
import {
  diffSnapshots,
  gzipLayer,
  pushRaw,
  run,
  skopeoPush,
  snapshotCvmfs,
  snapshotDir,
} from '../containers/images.js';
import { type RunningRegistry, startRegistry } from '../containers/registry.js';
import { tempDir } from '../helpers.js';
import { type BridgeProcess, createRepoIn, fileAt, startBridge, waitForRepo } from './support/bridge.js';
import { type Site, startSite } from './support/site.js';

const SITE = 'BRIDGE-CONTAINER-SITE';
const FQRN = 'images.flows.example.org';
const ID_ONE = randomUUID();
const ID_BAD = randomUUID();
const ID_PATH = randomUUID();
let base: string;
let pki: TestPki;
let site: Site;
let registry: RunningRegistry;
let images: BuiltImages;
let repo: Repository;
let pub: string;
let bridge: BridgeProcess | undefined;
/** the flat tree tag one's public path pointed at */
let flatOne: string | undefined;
const digests: Record<string, string> = {};

function imageEntry(id: string, reference: string, digest: string, path = `/${reference}`): CatalogEntry {
  return {
    id,
    kind: 'container-image',
    name: `image-${id.slice(0, 8)}`,
    version: '1',
    oci: { reference, digest },
    cvmfs: { repository: FQRN, path },
    voTags: [],
  } as CatalogEntry;
}

// ID_BAD is signed with tag one's digest but names tag two: the registry's digest differs.
// ID_PATH asks for a cvmfs.path that is not the image's public path in the layout.
const entries = () => [
  imageEntry(ID_ONE, `${registry.host}/test/img:one`, digests.one as string),
  imageEntry(ID_BAD, `${registry.host}/test/img:two`, digests.one as string),
  imageEntry(ID_PATH, `${registry.host}/test/img:two`, digests.two as string, '/elsewhere/img'),
];

function config() {
  const containersConfig = join(base, 'containers.yaml');
  writeFileSync(
    containersConfig,
    'insecureRegistries: [127.0.0.1]\nsetuidPolicy: strip\ngcGraceSeconds: 0\n',
  );
  return {
    storageDir: join(base, 'srv'),
    stateDir: join(base, 'state'),
    workers: 1,
    approved: {
      enabled: true,
      site: SITE,
      layoutUrl: site.baseUrl,
      containersConfig,
      containerGcIntervalSeconds: 1,
      trust: { caPath: pki.caPathDir, siteSigners: [pki.site.rule] },
      poll: { intervalSeconds: 1, retrySeconds: 1, timeoutSeconds: 5 },
      transfer: {
        torrentPort: 0,
        listenAddress: '127.0.0.1',
        dht: { enabled: false },
        webSeed: { enabled: false },
      },
    },
  };
}

/** The flat tree a public tag symlink points at. */
async function flatOf(reader: RepositoryReader, publicPath: string): Promise<string | undefined> {
  const link = await reader.lookup(publicPath);
  if (link?.kind !== 'symlink' || !link.symlink) return undefined;
  return posix.normalize(posix.join(posix.dirname(publicPath), link.symlink));
}

beforeAll(async () => {
  base = tempDir('tsw-approved-images-');
  pki = await createTestPki(join(base, 'pki'));
  [site, registry, images] = await Promise.all([
    startSite(join(base, 'layout'), pki, SITE, randomUUID()),
    startRegistry({ dir: join(base, 'registry') }),
    buildTestImages(join(base, 'images')),
  ]);
  for (const tag of images.tags) {
    skopeoPush(images.layout, tag, `${registry.host}/test/img:${tag}`);
    const raw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/test/img:${tag}`,
    ]);
    digests[tag] = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  }
  expect(digests.one).not.toBe(digests.two);
  repo = createRepoIn(base, FQRN);
  pub = repo.masterPublicKey();
}, 180_000);

afterAll(async () => {
  await bridge?.stop();
  await site?.close();
  await registry?.stop();
  rmSync(base, { recursive: true, force: true });
});

describe('approved container-image entries → CVMFS', () => {
  it('refuses an entry whose signed digest is not the registry manifest digest; publishes nothing', async () => {
    await site.publish({ version: 1, entries: entries(), approve: [ID_BAD, ID_PATH] });
    bridge = await startBridge(base, config());
    const refusal = (id: string) =>
      (bridge as BridgeProcess).waitForLog(
        (l) =>
          l.entryId === id && typeof l.msg === 'string' && l.msg.startsWith('approved entry not published'),
        60_000,
      );
    const refused = await refusal(ID_BAD);
    expect(refused.code).toBe('DIGEST_MISMATCH');
    expect(String(refused.msg)).toContain(`the registry's manifest digest ${digests.two}`);
    const misplaced = await refusal(ID_PATH);
    expect(misplaced.code).toBe('MESSAGE_INVALID');
    expect(String(misplaced.msg)).toContain("is not the image's public path");
    expect(repo.manifest().revision).toBe(1);
    const status = (await bridge.status()) as { approved: { entries: unknown[] } };
    expect(status.approved.entries).toEqual([]);
    // A refused conversion gives its claim on the public path back: any source may take it.
    const state = openState(join(base, 'state'), FQRN);
    expect(state.owners(FQRN)).toEqual(new Map());
    state.close();
  });

  it('converts an approved image: its flat tree equals umoci unpack of the same image', async () => {
    await site.publish({ version: 2, entries: entries(), approve: [ID_ONE, ID_BAD, ID_PATH] });
    const publicPath = `/${registry.host}/test/img:one`;
    const reader = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => (await flatOf(r, publicPath)) !== undefined,
      120_000,
    );
    try {
      const flat = (await flatOf(reader, publicPath)) as string;
      flatOne = flat;
      const expected = snapshotDir(unpackReference(images.layout, 'one', join(base, 'unpack-one')));
      const suid = expected.get('usr/bin/suid'); // documented policy: setuid bits stripped
      if (suid) suid.mode &= ~0o6000;
      expect(diffSnapshots(expected, await snapshotCvmfs(reader, flat))).toEqual([]);
      expect(expected.size).toBeGreaterThan(20);
      const record = JSON.parse(
        (await reader.readFile(`/.metadata/${registry.host}/test/img:one/image.json`)).toString(),
      ) as { digest: string };
      expect(record.digest).toBe(digests.one);
      // The mismatched entry is still refused: no tag two anywhere.
      expect(await reader.lookup(`/${registry.host}/test/img:two`)).toBeUndefined();
    } finally {
      reader.close();
    }
    const status = (await (bridge as BridgeProcess).status()) as {
      approved: { entries: { entryId: string; kind: string; status: string }[] };
    };
    expect(status.approved.entries).toEqual([
      expect.objectContaining({ entryId: ID_ONE, kind: 'container-image', status: 'published' }),
    ]);
  });

  it('resumes after a restart without converting or publishing again', async () => {
    const revision = repo.manifest().revision;
    await bridge?.stop();
    bridge = await startBridge(base, config());
    await bridge.waitForLog((l) => l.msg === 'cached approval checked');
    await new Promise((r) => setTimeout(r, 3000)); // three polls
    expect(repo.manifest().revision).toBe(revision);
    expect(bridge.logs.some((l) => l.msg === 'approved entry published')).toBe(false);
  });

  it('removes a revoked image from the repository in a later publish', async () => {
    await site.publish({ version: 3, entries: entries(), approve: [] });
    const reader = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => (await r.lookup(`/${registry.host}/test/img:one`)) === undefined,
      60_000,
    );
    expect(await reader.lookup(`/.metadata/${registry.host}/test/img:one`)).toBeUndefined();
    reader.close();
    // The state row goes after the publish that removed the path (a crash in between redoes
    // the removal), so the new revision can be readable a moment before the row is gone.
    await (bridge as BridgeProcess).waitForLog(
      (l) => l.msg === 'entry no longer approved; its path was removed',
      30_000,
    );
    const status = (await (bridge as BridgeProcess).status()) as { approved: { entries: unknown[] } };
    expect(status.approved.entries).toEqual([]);
    // Nothing references tag one's flat tree any more: the next GC frees it.
    expect(flatOne).toMatch(/^\/\.flat\//);
    await (bridge as BridgeProcess).waitForLog(
      (l) => l.msg === 'unreferenced container trees collected',
      30_000,
    );
    const after = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => (await r.lookup(flatOne as string)) === undefined,
      30_000,
    );
    after.close();
  });
});

describe('one owner per public image path: approved entries and wishlists', () => {
  const ID_OWNED = randomUUID();
  const ID_LATE = randomUUID();
  /** the digest ID_OWNED signed for test/owned:a, and ID_LATE for test/wish:b */
  let signed: string;
  let approvedLater: string;
  const owned = () => `${registry.host}/test/owned:a`;
  const wish = () => `${registry.host}/test/wish:b`;
  const all = () => [
    ...entries(),
    imageEntry(ID_OWNED, owned(), signed),
    imageEntry(ID_LATE, wish(), approvedLater),
  ];
  // Wishlists applied here, by another process than the bridge, on the same state directory.
  const ctx = () => ({
    config: loadContainerConfig({ file: join(base, 'containers.yaml') }),
    stateDir: join(base, 'state'),
    openRepo: () => repo,
  });
  const wishlist = (user: string, references: string[]) =>
    parseWishlist(
      `version: 1\nuser: ${user}\ncvmfs_repo: ${FQRN}\ninput: ${JSON.stringify(references.map((r) => `http://${r}`))}\n`,
    );
  const push = async (repository: string, tag: string, content: string) =>
    (await pushRaw(registry.url, repository, tag, [await gzipLayer([{ name: 'who', content }])])).digest;
  const read = () => waitForRepo(repo.layout.publicDir, FQRN, pub, async () => true);
  /** The digest .metadata records for a tag, and the `who` file its flat tree holds. */
  async function imageAt(reader: RepositoryReader, reference: string) {
    const flat = await flatOf(reader, `/${reference}`);
    if (!flat) return undefined;
    const record = JSON.parse((await reader.readFile(`/.metadata/${reference}/image.json`)).toString()) as {
      digest: string;
    };
    return { flat, digest: record.digest, who: await fileAt(reader, `${flat}/who`) };
  }
  const ownerOf = (reference: string) => {
    const state = openState(join(base, 'state'), FQRN);
    try {
      return state.ownerOf(FQRN, `/${reference}`)?.owner;
    } finally {
      state.close();
    }
  };
  const refusedLog = (id: string, after: number) =>
    (bridge as BridgeProcess).waitForLog(
      (l) =>
        l.entryId === id &&
        typeof l.msg === 'string' &&
        l.msg.startsWith('approved entry not published') &&
        (bridge as BridgeProcess).logs.indexOf(l) >= after,
      60_000,
    );

  beforeAll(async () => {
    // No container GC here: the repository lock fails fast, and the wishlists below publish
    // from this process while the bridge runs.
    await bridge?.stop();
    const cfg = config();
    bridge = await startBridge(base, {
      ...cfg,
      approved: { ...cfg.approved, containerGcIntervalSeconds: 0 },
    });
    signed = await push('test/owned', 'a', 'signed\n');
    approvedLater = await push('test/wish', 'b', 'approved later\n');
  }, 60_000);

  it('an approved entry owns its tag: a wishlist naming it is refused, the signed image unchanged', async () => {
    await site.publish({ version: 4, entries: all(), approve: [ID_OWNED] });
    const published = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => (await imageAt(r, owned())) !== undefined,
      60_000,
    );
    const before = await imageAt(published, owned());
    published.close();
    expect(before).toMatchObject({ digest: signed, who: 'signed\n' });
    await (bridge as BridgeProcess).waitForLog(
      (l) => l.entryId === ID_OWNED && l.msg === 'approved entry published',
    );
    expect(ownerOf(owned())).toBe(`approved:${ID_OWNED}`);
    // Someone pushes over the signed tag; a wishlist names it and another image.
    await push('test/owned', 'a', 'unsigned push\n');
    await push('test/free', 'c', 'free\n');
    const report = await applyWishlist(
      wishlist('intruder', [owned(), `${registry.host}/test/free:c`]),
      ctx(),
    );
    expect(report.failed).toEqual([
      {
        reference: owned(),
        code: 'TAG_CONFLICT',
        message: `${FQRN}:/${owned()} is owned by approved:${ID_OWNED}`,
      },
    ]);
    expect(report.converted).toEqual([`${registry.host}/test/free:c`]);
    const reader = await read();
    try {
      expect(await imageAt(reader, owned())).toEqual(before);
      expect(await imageAt(reader, `${registry.host}/test/free:c`)).toMatchObject({ who: 'free\n' });
    } finally {
      reader.close();
    }
    expect(ownerOf(owned())).toBe(`approved:${ID_OWNED}`);
    expect(ownerOf(`${registry.host}/test/free:c`)).toBe('wishlist:intruder');
  });

  it("a wishlist's removal pass never removes an image an approved entry owns", async () => {
    // A record the wishlist kept from before owners were recorded, for the approved tag.
    const state = openState(join(base, 'state'), FQRN);
    state.addWishlistImage('intruder', FQRN, owned());
    state.close();
    const report = await applyWishlist(wishlist('intruder', []), ctx());
    expect(report.failed).toEqual([]);
    expect(report.removed).toEqual([`${registry.host}/test/free:c`]);
    const reader = await read();
    try {
      expect(await imageAt(reader, owned())).toMatchObject({ digest: signed, who: 'signed\n' });
      expect(await imageAt(reader, `${registry.host}/test/free:c`)).toBeUndefined();
    } finally {
      reader.close();
    }
    const after = openState(join(base, 'state'), FQRN);
    expect(after.wishlistImages('intruder', FQRN)).toEqual([]);
    after.close();
    expect(ownerOf(owned())).toBe(`approved:${ID_OWNED}`);
    expect(ownerOf(`${registry.host}/test/free:c`)).toBeUndefined();
  });

  it('a wishlist owns its tag: the approved entry is refused until the wishlist drops it, then published', async () => {
    // The wishlist converts the tag as it is now; the endorser then signs a later push.
    const first = await push('test/wish', 'b', 'wishlist first\n');
    const report = await applyWishlist(wishlist('early', [wish()]), ctx());
    expect(report).toMatchObject({ converted: [wish()], failed: [] });
    expect(await push('test/wish', 'b', 'approved later\n')).toBe(approvedLater); // signed again
    const mark = (bridge as BridgeProcess).logs.length;
    await site.publish({ version: 5, entries: all(), approve: [ID_OWNED, ID_LATE] });
    const refused = await refusedLog(ID_LATE, mark);
    expect(refused.code).toBe('TAG_CONFLICT');
    expect(refused.msg).toBe(`approved entry not published: ${FQRN}:/${wish()} is owned by wishlist:early`);
    // Nothing published for it, over a few more polls: the wishlist's image stays, no row.
    await new Promise((r) => setTimeout(r, 2500));
    const reader = await read();
    try {
      expect(await imageAt(reader, wish())).toMatchObject({ digest: first, who: 'wishlist first\n' });
    } finally {
      reader.close();
    }
    expect(
      (bridge as BridgeProcess).logs.some(
        (l) => l.entryId === ID_LATE && l.msg === 'approved entry published',
      ),
    ).toBe(false);
    const status = (await (bridge as BridgeProcess).status()) as {
      approved: { entries: { entryId: string }[] };
    };
    expect(status.approved.entries.map((e) => e.entryId)).toEqual([ID_OWNED]);
    expect(ownerOf(wish())).toBe('wishlist:early');
    // The wishlist lets go: its removal releases the path; the next poll publishes the entry.
    const dropped = await applyWishlist(wishlist('early', []), ctx());
    expect(dropped).toMatchObject({ removed: [wish()], failed: [] });
    await (bridge as BridgeProcess).waitForLog(
      (l) => l.entryId === ID_LATE && l.msg === 'approved entry published',
      60_000,
    );
    const later = await read();
    try {
      expect(await imageAt(later, wish())).toMatchObject({ digest: approvedLater, who: 'approved later\n' });
    } finally {
      later.close();
    }
    expect(ownerOf(wish())).toBe(`approved:${ID_LATE}`);
  });

  it('a revoked entry leaves a path a wishlist owns in place (both converted it before owners were recorded)', async () => {
    // As after an upgrade whose seeding gave the tag to the wishlist that had recorded it.
    const db = new Database(join(base, 'state', FQRN, 'containers.db'));
    db.prepare("UPDATE image_owners SET owner = 'wishlist:early' WHERE fqrn = ? AND path = ?").run(
      FQRN,
      `/${owned()}`,
    );
    db.close();
    const mark = (bridge as BridgeProcess).logs.length;
    const refused = await refusedLog(ID_OWNED, mark);
    expect(refused.code).toBe('TAG_CONFLICT');
    expect(String(refused.msg)).toContain(`${FQRN}:/${owned()} is owned by wishlist:early`);
    await site.publish({ version: 6, entries: all(), approve: [ID_LATE] });
    await (bridge as BridgeProcess).waitForLog(
      (l) =>
        l.entryId === ID_OWNED &&
        l.msg === 'entry no longer approved; its path belongs to another source and was left in place',
      60_000,
    );
    const reader = await read();
    try {
      expect(await imageAt(reader, owned())).toMatchObject({ digest: signed, who: 'signed\n' });
    } finally {
      reader.close();
    }
    expect(ownerOf(owned())).toBe('wishlist:early');
    const status = (await (bridge as BridgeProcess).status()) as {
      approved: { entries: { entryId: string }[] };
    };
    expect(status.approved.entries.map((e) => e.entryId)).toEqual([ID_LATE]);
  });
});

describe('flow state from before container-image entries', () => {
  it('gains the kind and reference columns; old rows read as repo-snapshot', () => {
    const dir = tempDir('tsw-state-old-');
    try {
      const file = join(dir, 'state.db');
      const old = new Database(file);
      old.exec(`CREATE TABLE approved_entries (
        entry_id TEXT PRIMARY KEY, repository TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
        info_hash TEXT NOT NULL, file_path TEXT NOT NULL, status TEXT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 0, unapproved_since TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL);
        INSERT INTO approved_entries VALUES ('e1', 'r.example.org', '/sw', 'aa', 'bb', '/f', 'published', 3, '', 'now');`);
      old.close();
      const state = new FlowState(file);
      expect(state.approvedEntries()).toEqual([
        expect.objectContaining({ entryId: 'e1', kind: 'repo-snapshot', reference: '', revision: 3 }),
      ]);
      state.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
