// Snapshots first, container images second: the approved flow (inside this test process, as
// `tsw-bridge run` holds it, with a real signed site, tracker and seeding peer) publishes
// repo-snapshot entries; then a wishlist is applied against a real docker-registry. An image
// whose public path is a snapshot's path, lies inside one or covers one, or whose layout trees
// overlap one, is refused with TAG_CONFLICT naming the snapshot entry and path — nothing of it
// published, its claim given back — while the rest of the wishlist (an image beside a snapshot)
// converts; an approved container-image entry inside a snapshot is refused too. The check runs inside the conversion's transaction: a snapshot downloaded while the
// image waited for its turn refuses it too, and is then published; a downloaded row (a snapshot
// about to be published, or an update of one) counts like a published one.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { CatalogEntry } from '@trustswarm/policy';
import { createTestPki, type TestPki } from '@trustswarm/policy/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config.js';
import { type ContainerConfig, defaultContainerConfig } from '../../src/containers/config.js';
import { convertImage } from '../../src/containers/convert.js';
import type { ProgressEvent } from '../../src/containers/events.js';
import { openState } from '../../src/containers/state.js';
import { applyWishlist, parseWishlist } from '../../src/containers/wishlist.js';
import { ApprovedFlow } from '../../src/flows/approved/flow.js';
import { FlowMetrics } from '../../src/flows/metrics.js';
import { FlowState, flowStateFile } from '../../src/flows/state.js';
import type { RepositoryReader } from '../../src/reader/reader.js';
import type { Repository } from '../../src/repo/repository.js';
import { repositoryTurns, runAs } from '../../src/repo/turns.js';
import { withTransaction } from '../../src/writer/publish.js';
import { gzipLayer, pushRaw } from '../containers/images.js';
import { type RunningRegistry, startRegistry } from '../containers/registry.js';
import { gate, tempDir, waitFor } from '../helpers.js';
import { createRepoIn, fileAt, readRepo } from './support/bridge.js';
import { type Site, type SnapshotArtifact, snapshotEntry, startSite } from './support/site.js';
import { tarOf } from './support/tar.js';

const SITE = 'SNAPSHOT-IMAGE-SITE';
const FQRN = 'snapimg.flows.example.org';
const ID = {
  equal: randomUUID(),
  inside: randomUUID(),
  covers: randomUUID(),
  sibling: randomUUID(),
  layout: randomUUID(),
  late: randomUUID(),
  pending: randomUUID(),
  image: randomUUID(),
};
let base: string;
let pki: TestPki;
let site: Site;
let registry: RunningRegistry;
let repo: Repository;
let flow: ApprovedFlow | undefined;
let flowState: FlowState | undefined;
const snaps = new Map<string, SnapshotArtifact>();
const digests: Record<string, string> = {};
const logs: Record<string, unknown>[] = [];

const stateDir = () => join(base, 'state');
const host = () => registry.host;
/** The snapshot entries' paths, around the images' public paths /HOST/NAME/img:1. */
const snapshotPath = (id: string) =>
  ({
    [ID.equal]: `/${host()}/equal/img:1`, // the image's public path itself
    [ID.inside]: `/${host()}/inside`, // the image would lie inside it
    [ID.covers]: `/${host()}/covers/img:1/extra`, // the image would cover it
    [ID.sibling]: `/${host()}/sibling/tools`, // beside the image
    [ID.layout]: '/imgs/.flat', // the layout trees of images under basePath /imgs
    [ID.late]: `/${host()}/late`,
    [ID.pending]: `/${host()}/pending`,
  })[id] as string;
const entry = (id: string) =>
  snapshotEntry(id, snaps.get(id) as SnapshotArtifact, { repository: FQRN, path: snapshotPath(id) });
const image = (name: string) => `${host()}/${name}/img:1`;

async function startFlow(): Promise<ApprovedFlow> {
  const config = ConfigSchema.parse({
    storageDir: join(base, 'srv'),
    stateDir: stateDir(),
    workers: 1,
    lockWaitSeconds: 60,
    approved: {
      enabled: true,
      site: SITE,
      layoutUrl: site.baseUrl,
      trust: { caPath: pki.caPathDir, siteSigners: [pki.site.rule] },
      poll: { intervalSeconds: 3600, retrySeconds: 3600, timeoutSeconds: 5 },
      transfer: {
        torrentPort: 0,
        listenAddress: '127.0.0.1',
        dht: { enabled: false },
        webSeed: { enabled: false },
      },
    },
  });
  flowState = new FlowState(flowStateFile(config.stateDir));
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const started = new ApprovedFlow({ config, state: flowState, metrics: new FlowMetrics(), logger });
  await started.start();
  return started;
}

function apply(names: string[], config: ContainerConfig, events: ProgressEvent[] = [], user = 'alice') {
  const wishlist = parseWishlist(
    `version: 1\nuser: ${user}\ncvmfs_repo: ${FQRN}\ninput: ${JSON.stringify(names.map((n) => `http://${image(n)}`))}\n`,
  );
  return applyWishlist(wishlist, {
    config,
    stateDir: stateDir(),
    openRepo: () => repo,
    onEvent: (e) => events.push(e),
  });
}

function owners(): Map<string, string> {
  const state = openState(stateDir(), FQRN);
  try {
    return state.owners(FQRN);
  } finally {
    state.close();
  }
}

/** The `who` file of an image's flat tree, read through its public symlink. */
async function who(reader: RepositoryReader, publicPath: string): Promise<string | undefined> {
  const link = await reader.lookup(publicPath);
  if (link?.kind !== 'symlink' || !link.symlink) return undefined;
  return fileAt(reader, `${posix.normalize(posix.join(posix.dirname(publicPath), link.symlink))}/who`);
}

const snapshotOf = (id: string) => `the repo snapshot of approved entry ${id}`;

beforeAll(async () => {
  base = tempDir('tsw-snapshot-images-');
  pki = await createTestPki(join(base, 'pki'));
  [site, registry] = await Promise.all([
    startSite(join(base, 'layout'), pki, SITE, randomUUID()),
    startRegistry({ dir: join(base, 'registry') }),
  ]);
  for (const [name, id] of Object.entries(ID))
    snaps.set(
      id,
      await site.addArtifact(
        join(base, 'origin', name),
        `${name}.tar`,
        await tarOf({ 'bin/tool': `${name}\n` }),
      ),
    );
  for (const name of ['equal', 'inside', 'covers', 'sibling', 'late', 'pending'])
    digests[name] = (
      await pushRaw(registry.url, `${name}/img`, '1', [await gzipLayer([{ name: 'who', content: name }])])
    ).digest;
  repo = createRepoIn(base, FQRN);
  await site.publish({
    version: 1,
    entries: [ID.equal, ID.inside, ID.covers, ID.sibling, ID.layout].map(entry),
    approve: [ID.equal, ID.inside, ID.covers, ID.sibling, ID.layout],
  });
  flow = await startFlow();
  await flow.tick();
}, 180_000);

afterAll(async () => {
  await flow?.stop();
  flowState?.close();
  await site?.close();
  await registry?.stop();
  rmSync(base, { recursive: true, force: true });
});

describe('container images and the paths repo snapshots publish', () => {
  it('refuses a wishlist image over, inside or covering a snapshot; the image beside one converts', async () => {
    expect(flow?.status().entries.map((e) => [e.entryId, e.status])).toEqual(
      expect.arrayContaining(
        [ID.equal, ID.inside, ID.covers, ID.sibling, ID.layout].map((id) => [id, 'published']),
      ),
    );
    const before = repo.manifest().revision;
    const events: ProgressEvent[] = [];
    const report = await apply(['equal', 'inside', 'covers', 'sibling'], defaultContainerConfig({}), events);
    const conflict = (name: string, message: string) => ({
      reference: image(name),
      code: 'TAG_CONFLICT',
      message,
    });
    expect(report.failed).toHaveLength(3);
    expect(report.failed).toEqual(
      expect.arrayContaining([
        conflict('equal', `${FQRN}:/${image('equal')} is the path of ${snapshotOf(ID.equal)}`),
        conflict(
          'inside',
          `${FQRN}:/${image('inside')} lies inside /${host()}/inside, ${snapshotOf(ID.inside)}`,
        ),
        conflict(
          'covers',
          `${FQRN}:/${image('covers')} covers /${image('covers')}/extra, ${snapshotOf(ID.covers)}`,
        ),
      ]),
    );
    expect(report.converted).toEqual([image('sibling')]);
    expect(
      events
        .filter((e) => e.event === 'image.error')
        .map((e) => [e.reference, e.code])
        .sort(),
    ).toEqual(['covers', 'equal', 'inside'].map((n) => [image(n), 'TAG_CONFLICT']));
    // one revision: the sibling image; the refused ones gave their claims back
    expect(repo.manifest().revision).toBe(before + 1);
    expect(owners()).toEqual(new Map([[`/${image('sibling')}`, 'wishlist:alice']]));
    const reader = await readRepo(repo.layout.publicDir, FQRN, repo.masterPublicKey());
    try {
      for (const id of [ID.equal, ID.inside, ID.covers, ID.sibling])
        expect(await fileAt(reader, `${snapshotPath(id)}/bin/tool`)).toMatch(
          /^(equal|inside|covers|sibling)\n$/,
        );
      expect(await reader.lookup(`/${image('equal')}`)).toMatchObject({ kind: 'dir' });
      expect(await reader.lookup(`/${image('covers')}`)).toMatchObject({ kind: 'dir' });
      expect(await reader.lookup(`/${image('inside')}`)).toBeUndefined();
      for (const name of ['equal', 'inside', 'covers'])
        expect(await reader.lookup(`/.metadata/${image(name)}`)).toBeUndefined();
      expect(await who(reader, `/${image('sibling')}`)).toBe('sibling');
    } finally {
      reader.close();
    }
  }, 120_000);

  it('refuses an image whose layout trees would overlap a snapshot', async () => {
    const before = repo.manifest().revision;
    const report = await apply(['sibling'], defaultContainerConfig({ basePath: '/imgs' }));
    expect(report.failed).toEqual([
      {
        reference: image('sibling'),
        code: 'TAG_CONFLICT',
        message: `${FQRN}:/imgs/.flat, the container layout of /imgs/${image('sibling')}, overlaps /imgs/.flat, ${snapshotOf(ID.layout)}`,
      },
    ]);
    expect(repo.manifest().revision).toBe(before);
    expect(owners().has(`/imgs/${image('sibling')}`)).toBe(false);
  }, 120_000);

  it('checks in the transaction: a snapshot downloaded while the image waited for its turn refuses it', async () => {
    const before = repo.manifest().revision;
    const { open, opened } = gate();
    // another flow holds the repository; a conversion (as `container ingest` runs it) queues behind it
    const other = runAs('S3 flow', () =>
      withTransaction(repo, async (tx) => {
        await tx.addFile('/s3/object', Buffer.from('s3\n'));
        await opened;
      }),
    );
    const converting = runAs('container ingest', () =>
      convertImage({ reference: image('late') }, { repo, config: defaultContainerConfig({}) }),
    ).catch((error: unknown) => error);
    await waitFor(
      'the conversion in the queue',
      () => Object.values(repositoryTurns()).some((t) => t.waiting.includes('container ingest')) || undefined,
    );
    // then a snapshot entry around the image's path is approved, downloaded, and queues too
    const all = [ID.equal, ID.inside, ID.covers, ID.sibling, ID.layout, ID.late];
    await site.publish({ version: 2, entries: all.map(entry), approve: all });
    const ticking = (flow as ApprovedFlow).tick();
    await waitFor('the download', () =>
      logs.find((l) => l.entryId === ID.late && l.msg === 'approved artifact downloaded and verified'),
    );
    open();
    expect((await other).revision).toBe(before + 1);
    expect(await converting).toMatchObject({
      code: 'TAG_CONFLICT',
      message: `${FQRN}:/${image('late')} lies inside /${host()}/late, ${snapshotOf(ID.late)} (downloaded, to be published)`,
    });
    await ticking;
    // the snapshot publishes after it; nothing of the image was
    expect(flow?.status().entries.find((e) => e.entryId === ID.late)).toMatchObject({
      status: 'published',
      revision: before + 2,
    });
    expect(repo.manifest().revision).toBe(before + 2);
    const reader = await readRepo(repo.layout.publicDir, FQRN, repo.masterPublicKey());
    try {
      expect(await fileAt(reader, `/${host()}/late/bin/tool`)).toBe('late\n');
      expect(await reader.lookup(`/${image('late')}`)).toBeUndefined();
      expect(await reader.lookup(`/.metadata/${image('late')}`)).toBeUndefined();
    } finally {
      reader.close();
    }
  }, 120_000);

  it('refuses a wishlist image over a published snapshot whose update is being downloaded', async () => {
    // a published snapshot whose update is being downloaded has a downloaded row too
    const late = flowState?.approvedEntry(ID.late);
    flowState?.putApproved({ ...(late as NonNullable<typeof late>), status: 'downloaded' });
    const before = repo.manifest().revision;
    const report = await apply(['late', 'sibling'], defaultContainerConfig({}));
    expect(report.unchanged).toEqual([image('sibling')]);
    expect(report.failed).toEqual([
      {
        reference: image('late'),
        code: 'TAG_CONFLICT',
        message: `${FQRN}:/${image('late')} lies inside /${host()}/late, ${snapshotOf(ID.late)} (downloaded, to be published)`,
      },
    ]);
    expect(repo.manifest().revision).toBe(before);
    expect(owners().has(`/${image('late')}`)).toBe(false);
    flowState?.putApproved(late as NonNullable<typeof late>); // the update is done
  }, 120_000);

  it('refuses a wishlist image before claiming it: a snapshot waiting for its turn is not blocked by that claim', async () => {
    const before = repo.manifest().revision;
    const { open, opened } = gate();
    const other = runAs('S3 flow', () =>
      withTransaction(repo, async (tx) => {
        await tx.addFile('/s3/object', Buffer.from('s3 again\n'));
        await opened;
      }),
    );
    const all = [ID.equal, ID.inside, ID.covers, ID.sibling, ID.layout, ID.late, ID.pending];
    await site.publish({ version: 3, entries: all.map(entry), approve: all });
    const ticking = (flow as ApprovedFlow).tick();
    await waitFor('the download', () =>
      logs.find((l) => l.entryId === ID.pending && l.msg === 'approved artifact downloaded and verified'),
    );
    // the snapshot is downloaded and waits for its turn; a wishlist names an image inside its path
    let settled = false;
    const applying = runAs('wishlist carol', () =>
      apply(['pending'], defaultContainerConfig({}), [], 'carol'),
    ).finally(() => {
      settled = true;
    });
    // refused at once, or (without the early check) queued behind the snapshot
    await waitFor(
      'the wishlist refused or queued',
      () =>
        settled ||
        Object.values(repositoryTurns()).some((t) => t.waiting.includes('wishlist carol')) ||
        undefined,
    );
    open();
    await other;
    expect((await applying).failed).toEqual([
      {
        reference: image('pending'),
        code: 'TAG_CONFLICT',
        message: `${FQRN}:/${image('pending')} lies inside /${host()}/pending, ${snapshotOf(ID.pending)} (downloaded, to be published)`,
      },
    ]);
    await ticking;
    // the snapshot found no claim on the image's path in its transaction, and published
    expect(flow?.status().entries.find((e) => e.entryId === ID.pending)).toMatchObject({
      status: 'published',
      revision: before + 2,
    });
    expect(owners().has(`/${image('pending')}`)).toBe(false);
  }, 120_000);

  it('refuses an approved container-image entry inside a snapshot; no row, no claim kept', async () => {
    const before = repo.manifest().revision;
    const snapshots = [ID.equal, ID.inside, ID.covers, ID.sibling, ID.layout, ID.late, ID.pending];
    const imageEntry = {
      id: ID.image,
      kind: 'container-image',
      name: 'image-inside',
      version: '1',
      oci: { reference: image('inside'), digest: digests.inside },
      cvmfs: { repository: FQRN, path: `/${image('inside')}` },
      voTags: [],
    } as CatalogEntry;
    await site.publish({
      version: 4,
      entries: [...snapshots.map(entry), imageEntry],
      approve: [...snapshots, ID.image],
    });
    await (flow as ApprovedFlow).tick();
    expect(
      logs.filter((l) => l.entryId === ID.image && String(l.msg).startsWith('approved entry not published')),
    ).toEqual([
      expect.objectContaining({
        code: 'TAG_CONFLICT',
        msg: `approved entry not published: ${FQRN}:/${image('inside')} lies inside /${host()}/inside, ${snapshotOf(ID.inside)}`,
      }),
    ]);
    expect(repo.manifest().revision).toBe(before);
    expect(flow?.status().entries.some((e) => e.entryId === ID.image)).toBe(false);
    expect(owners().has(`/${image('inside')}`)).toBe(false);
  }, 120_000);
});
