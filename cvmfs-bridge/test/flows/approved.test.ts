// Approved content → CVMFS: `tsw-bridge run` follows a signed site (static layout, site PKI,
// tracker, an origin peer), downloads approved repo-snapshot entries over BitTorrent with
// @trustswarm/fetch, verifies them, and publishes each tar at entry.cvmfs.path; a restart
// resumes without publishing again; a revoked entry's path disappears in a later publish,
// or, with onRevoke: keep, stays and is flagged.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPki, type TestPki } from '@trustswarm/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Repository } from '../../src/repo/repository.js';
import { tempDir } from '../helpers.js';
import { type BridgeProcess, createRepoIn, fileAt, startBridge, waitForRepo } from './support/bridge.js';
import { type Site, type SnapshotArtifact, snapshotEntry, startSite } from './support/site.js';
import { tarOf } from './support/tar.js';

const SITE = 'BRIDGE-SITE';
const FQRN = 'snap.flows.example.org';
const ID_A = randomUUID();
const ID_B = randomUUID();
let base: string;
let pki: TestPki;
let site: Site;
let repo: Repository;
let pub: string;
let bridge: BridgeProcess | undefined;
let snapA: SnapshotArtifact;
let snapB: SnapshotArtifact;

function config(onRevoke: 'remove' | 'keep' = 'remove') {
  return {
    storageDir: join(base, 'srv'),
    stateDir: join(base, 'state'),
    workers: 1,
    approved: {
      enabled: true,
      site: SITE,
      layoutUrl: site.baseUrl,
      onRevoke,
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

const entries = () => [
  snapshotEntry(ID_A, snapA, { repository: FQRN, path: '/sw/tool/1.0' }),
  snapshotEntry(ID_B, snapB, { repository: FQRN, path: '/sw/lib/2.0' }),
];

beforeAll(async () => {
  base = tempDir('tsw-approved-');
  pki = await createTestPki(join(base, 'pki'));
  site = await startSite(join(base, 'layout'), pki, SITE, randomUUID());
  snapA = await site.addArtifact(
    join(base, 'origin', 'a'),
    'tool.tar',
    await tarOf({ 'bin/tool': 'tool 1.0\n' }),
  );
  snapB = await site.addArtifact(
    join(base, 'origin', 'b'),
    'lib.tar',
    await tarOf({ 'lib/libx.so': 'libx\n' }),
  );
  repo = createRepoIn(base, FQRN);
  pub = repo.masterPublicKey();
}, 120_000);

afterAll(async () => {
  await bridge?.stop();
  await site?.close();
  rmSync(base, { recursive: true, force: true });
});

describe('approved repo-snapshot entries → CVMFS', () => {
  it('publishes nothing from an approval not signed by the site', async () => {
    await site.publish({ version: 1, entries: entries(), approve: [ID_A], signer: pki.endorsers.bob });
    bridge = await startBridge(base, config());
    await bridge.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('approval refused'), 20_000);
    expect(repo.manifest().revision).toBe(1);
    expect(bridge.logs.some((l) => l.msg === 'approved artifact downloaded and verified')).toBe(false);
  });

  it('downloads approved entries over BitTorrent, verifies and publishes them; ignores unapproved ones', async () => {
    await site.publish({ version: 1, entries: entries(), approve: [ID_A] });
    const reader = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) => (await fileAt(r, '/sw/tool/1.0/bin/tool')) === 'tool 1.0\n',
      60_000,
    );
    expect(await reader.lookup('/sw/lib/2.0')).toBeUndefined();
    reader.close();
    const status = (await (bridge as BridgeProcess).status()) as {
      approved: { entries: { entryId: string; status: string }[] };
      repositories: Record<string, unknown>;
    };
    expect(status.approved.entries).toEqual([
      expect.objectContaining({ entryId: ID_A, status: 'published' }),
    ]);
    expect(status.repositories).toEqual({}); // no transaction open or waiting once published
  });

  it('resumes after a restart without downloading or publishing again', async () => {
    const revision = repo.manifest().revision;
    await bridge?.stop();
    bridge = await startBridge(base, config());
    await bridge.waitForLog((l) => l.msg === 'cached approval checked');
    await new Promise((r) => setTimeout(r, 3000)); // three polls
    expect(repo.manifest().revision).toBe(revision);
    expect(bridge.logs.some((l) => l.msg === 'approved artifact downloaded and verified')).toBe(false);
  });

  it('publishes a newly approved entry and removes a revoked one in a later publish', async () => {
    await site.publish({ version: 2, entries: entries(), approve: [ID_B] });
    const reader = await waitForRepo(
      repo.layout.publicDir,
      FQRN,
      pub,
      async (r) =>
        (await fileAt(r, '/sw/lib/2.0/lib/libx.so')) === 'libx\n' && !(await r.lookup('/sw/tool/1.0')),
      60_000,
    );
    reader.close();
  });

  it('keeps and flags a revoked entry when onRevoke is keep', async () => {
    await bridge?.stop();
    bridge = await startBridge(base, config('keep'));
    await site.publish({ version: 3, entries: entries(), approve: [] });
    const deadline = Date.now() + 30_000;
    let flagged = false;
    while (!flagged && Date.now() < deadline) {
      const status = (await bridge.status()) as {
        approved: { entries: { entryId: string; status: string }[] };
      };
      flagged = status.approved.entries.some((e) => e.entryId === ID_B && e.status === 'flagged');
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(flagged).toBe(true);
    const reader = await waitForRepo(repo.layout.publicDir, FQRN, pub, async () => true);
    expect(await fileAt(reader, '/sw/lib/2.0/lib/libx.so')).toBe('libx\n');
    reader.close();
  });
});
