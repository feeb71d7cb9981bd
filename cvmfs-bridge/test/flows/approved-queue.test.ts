// The approved-content flow inside this test process (as `tsw-bridge run` holds it), with a
// real signed site, tracker and seeding peer: (1) while another transaction of the process
// (another flow's) holds the repository, the flow's snapshot publish waits its turn and lands
// after it, instead of failing with REPO_LOCKED; (2) a repo-snapshot is refused (TAG_CONFLICT,
// nothing published) over, inside or over the layout trees of a container image path that a
// wishlist owns, also when the image is claimed while the snapshot waits for its turn; a
// snapshot beside the image path is published.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPki, type TestPki } from '@trustswarm/policy/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config.js';
import { openState, wishlistOwner } from '../../src/containers/index.js';
import { ApprovedFlow } from '../../src/flows/approved/flow.js';
import { FlowMetrics } from '../../src/flows/metrics.js';
import { FlowState } from '../../src/flows/state.js';
import type { Repository } from '../../src/repo/repository.js';
import { runAs } from '../../src/repo/turns.js';
import { withTransaction } from '../../src/writer/publish.js';
import { gate, tempDir, waitFor } from '../helpers.js';
import { createRepoIn, fileAt, readRepo } from './support/bridge.js';
import { type Site, type SnapshotArtifact, snapshotEntry, startSite } from './support/site.js';
import { tarOf } from './support/tar.js';

const SITE = 'QUEUE-SITE';
const FQRN = 'queue.flows.example.org';
const IMAGE = 'registry.example.org/team/app:1.0';
const LATE_IMAGE = 'registry.example.org/team/late:2.0';
const ID = {
  tool: randomUUID(),
  over: randomUUID(),
  inside: randomUUID(),
  flat: randomUUID(),
  beside: randomUUID(),
  late: randomUUID(),
};
let base: string;
let pki: TestPki;
let site: Site;
let repo: Repository;
/** One artifact per entry (an engine seeds each torrent once). */
const snaps = new Map<string, SnapshotArtifact>();
let flow: ApprovedFlow | undefined;
let flowState: FlowState | undefined;
const metrics = new FlowMetrics();
const logs: Record<string, unknown>[] = [];

const logFor = (entryId: string, msg: string) => () =>
  logs.find((l) => l.entryId === entryId && l.msg === msg);
const NOT_PUBLISHED = 'approved entry not published: ';
const refusals = () => logs.filter((l) => String(l.msg).startsWith(NOT_PUBLISHED));
const failures = () => logs.filter((l) => Number(l.level) >= 50);
const entry = (id: string, path: string) =>
  snapshotEntry(id, snaps.get(id) as SnapshotArtifact, { repository: FQRN, path });
const failedActions = async () =>
  (await metrics.approved.get()).values.find((v) => v.labels.action === 'failed')?.value ?? 0;

/** The flow as `tsw-bridge run` builds it, polling only when the test asks (tick). */
async function startFlow(): Promise<ApprovedFlow> {
  const config = ConfigSchema.parse({
    storageDir: join(base, 'srv'),
    stateDir: join(base, 'state'),
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
  flowState = new FlowState(join(config.stateDir, 'flows', 'state.db'));
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  const started = new ApprovedFlow({ config, state: flowState, metrics, logger });
  await started.start();
  return started;
}

beforeAll(async () => {
  base = tempDir('tsw-approved-queue-');
  pki = await createTestPki(join(base, 'pki'));
  site = await startSite(join(base, 'layout'), pki, SITE, randomUUID());
  for (const [name, id] of Object.entries(ID))
    snaps.set(
      id,
      await site.addArtifact(
        join(base, 'origin', name),
        `${name}.tar`,
        await tarOf({ 'bin/tool': `${name}\n` }),
      ),
    );
  repo = createRepoIn(base, FQRN);
}, 120_000);

afterAll(async () => {
  await flow?.stop();
  flowState?.close();
  await site?.close();
  rmSync(base, { recursive: true, force: true });
});

describe('the approved flow shares its repository with the process’s other transactions', () => {
  it('waits for another flow’s open transaction, then publishes after it', async () => {
    await site.publish({ version: 1, entries: [entry(ID.tool, '/sw/tool/1.0')], approve: [ID.tool] });
    const hold = gate();
    // another flow of the process (e.g. an S3 batch) has a transaction open in the repository
    const other = runAs('S3 flow', () =>
      withTransaction(repo, async (tx) => {
        await tx.addFile('/s3/object', Buffer.from('from the S3 flow\n'));
        await hold.opened;
      }),
    );
    flow = await startFlow();
    await waitFor('the download', logFor(ID.tool, 'approved artifact downloaded and verified'));
    await new Promise((r) => setTimeout(r, 1000)); // the flow now waits for its turn
    expect(failures()).toEqual([]);
    expect(repo.manifest().revision).toBe(1);
    hold.open();
    expect((await other).revision).toBe(2);
    const published = await waitFor('the publish', logFor(ID.tool, 'approved entry published'));
    expect(published).toMatchObject({ revision: 3, path: '/sw/tool/1.0' });
    expect(failures()).toEqual([]);
    const reader = await readRepo(repo.layout.publicDir, FQRN, repo.masterPublicKey());
    try {
      expect(reader.revision).toBe(3);
      expect(await fileAt(reader, '/s3/object')).toBe('from the S3 flow\n');
      expect(await fileAt(reader, '/sw/tool/1.0/bin/tool')).toBe('tool\n');
    } finally {
      reader.close();
    }
    expect(await failedActions()).toBe(0);
  }, 120_000);
});

describe('repo-snapshot paths and container image owners', () => {
  it('refuses a snapshot over, inside or over the layout of an owned image path; one beside it is published', async () => {
    // a wishlist's image: its public symlink and flat tree, and its owner in the containers state
    await withTransaction(repo, async (tx) => {
      await tx.addDirectory('/.flat/aa/aa11', { mode: 0o755 });
      await tx.addFile('/.flat/aa/aa11/etc/os-release', Buffer.from('ID=test\n'));
      await tx.addSymlink(`/${IMAGE}`, '../../.flat/aa/aa11');
    });
    const containers = openState(join(base, 'state'), FQRN);
    containers.claim(FQRN, `/${IMAGE}`, wishlistOwner('alice'), IMAGE);
    containers.close();
    const before = repo.manifest().revision;
    const entries = [
      entry(ID.over, '/registry.example.org'),
      entry(ID.inside, `/${IMAGE}/extra`),
      entry(ID.flat, '/.flat'),
      entry(ID.beside, '/registry.example.org/team/tools'),
    ];
    await site.publish({
      version: 2,
      entries: [entry(ID.tool, '/sw/tool/1.0'), ...entries],
      approve: [ID.tool, ...entries.map((e) => e.id)],
    });
    await (flow as ApprovedFlow).tick();
    const owner = `owned by ${wishlistOwner('alice')}`;
    const refused = refusals().map((l) => [l.entryId, l.code, String(l.msg).slice(NOT_PUBLISHED.length)]);
    expect(refused).toHaveLength(3);
    expect(refused).toEqual(
      expect.arrayContaining([
        [
          ID.over,
          'TAG_CONFLICT',
          `${FQRN}:/registry.example.org covers the container image path /${IMAGE} ${owner}`,
        ],
        [
          ID.inside,
          'TAG_CONFLICT',
          `${FQRN}:/${IMAGE}/extra lies inside the container image path /${IMAGE} ${owner}`,
        ],
        [
          ID.flat,
          'TAG_CONFLICT',
          `${FQRN}:/.flat overlaps /.flat, the container layout of /${IMAGE} ${owner}`,
        ],
      ]),
    );
    expect(failures()).toHaveLength(3);
    expect(await failedActions()).toBe(3);
    // refused before the download: nothing fetched, no state row
    for (const id of [ID.over, ID.inside, ID.flat])
      expect(
        logs.some((l) => l.entryId === id && l.msg === 'approved artifact downloaded and verified'),
      ).toBe(false);
    const published = await waitFor('the beside entry', logFor(ID.beside, 'approved entry published'));
    expect(published).toMatchObject({ revision: before + 1 });
    expect(repo.manifest().revision).toBe(before + 1);
    const status = flow?.status() as { entries: { entryId: string; status: string }[] };
    expect(status.entries.map((e) => e.entryId).sort()).toEqual([ID.tool, ID.beside].sort());
    const reader = await readRepo(repo.layout.publicDir, FQRN, repo.masterPublicKey());
    try {
      expect(await reader.lookup(`/${IMAGE}`)).toMatchObject({
        kind: 'symlink',
        symlink: '../../.flat/aa/aa11',
      });
      expect(await fileAt(reader, '/.flat/aa/aa11/etc/os-release')).toBe('ID=test\n');
      expect(await fileAt(reader, '/registry.example.org/team/tools/bin/tool')).toBe('beside\n');
      expect(await reader.lookup(`/${IMAGE}/extra`)).toBeUndefined();
    } finally {
      reader.close();
    }
  }, 120_000);

  it('refuses a snapshot whose path an image took while it waited for its turn', async () => {
    const before = repo.manifest().revision;
    const hold = gate();
    const other = runAs('container conversion', () =>
      withTransaction(repo, async (tx) => {
        await tx.addFile('/other/file', Buffer.from('other\n'));
        await hold.opened;
      }),
    );
    await site.publish({
      version: 3,
      entries: [
        entry(ID.tool, '/sw/tool/1.0'),
        entry(ID.beside, '/registry.example.org/team/tools'),
        entry(ID.late, `/${LATE_IMAGE}`),
      ],
      approve: [ID.tool, ID.beside, ID.late],
    });
    const ticking = (flow as ApprovedFlow).tick();
    await waitFor('the download', logFor(ID.late, 'approved artifact downloaded and verified'));
    // the snapshot passed the first check and waits; a wishlist claims the path meanwhile
    const containers = openState(join(base, 'state'), FQRN);
    containers.claim(FQRN, `/${LATE_IMAGE}`, wishlistOwner('bob'), LATE_IMAGE);
    containers.close();
    hold.open();
    expect((await other).revision).toBe(before + 1);
    await ticking;
    expect(refusals().filter((l) => l.entryId === ID.late)).toEqual([
      expect.objectContaining({
        code: 'TAG_CONFLICT',
        msg: `${NOT_PUBLISHED}${FQRN}:/${LATE_IMAGE} is the container image path owned by ${wishlistOwner('bob')}`,
      }),
    ]);
    expect(repo.manifest().revision).toBe(before + 1);
    expect(flow?.status()).toMatchObject({
      entries: expect.arrayContaining([expect.objectContaining({ entryId: ID.late, status: 'downloaded' })]),
    });
  }, 120_000);
});
