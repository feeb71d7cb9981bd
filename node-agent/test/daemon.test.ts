// End to end on loopback: a static layout server, a site PKI, a tracker, an origin seeder
// and five `tsw-agent run` processes. They verify the signed approval, select their
// entries, download over BitTorrent, install with matching hashes and run hooks; then the
// refusals and lifecycle: replayed older approval, tampered .torrent, server down, revoke.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '@trustswarm/fetch';
import { createTestPki, type TestPki } from '@trustswarm/policy/testing';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRequest } from '../src/api-client.js';
import { type AgentProcess, spawnAgent } from './helpers/agent.js';
import { buildAgent, cliPath } from './helpers/build.js';
import {
  type EntrySpec,
  type PublishedCatalog,
  publishApproval,
  publishCatalog,
  setApproval,
} from './helpers/layout.js';
import { type StaticServer, startStaticServer } from './helpers/static-server.js';
import {
  type Artifact,
  type FetchProcess,
  makeArtifact,
  preinstall,
  spawnFetch,
  startTracker,
  stopAll,
  type Tracker,
} from './helpers/swarm.js';

const SITE = 'CERN-TEST';
let dir: string;
let layoutDir: string;
let tracker: Tracker;
let server: StaticServer;
let pki: TestPki;
let image: Artifact;
let other: Artifact;
let tampered: Artifact;
const agents: AgentProcess[] = [];
const helpers: { proc: FetchProcess['proc'] }[] = [];
let approvalV2: { bytes: Buffer; signature: Buffer };
let catalogV1: PublishedCatalog;
let catalogV2: PublishedCatalog;

const ID_A = randomUUID();
const ID_B = randomUUID();
const ID_C = randomUUID();
const CATALOG = randomUUID();
const entryA: () => EntrySpec = () => ({ id: ID_A, name: 'slc-kvm', artifact: image });
const entryB: () => EntrySpec = () => ({
  id: ID_B,
  name: 'other-cluster',
  artifact: other,
  cluster: 'c2',
});
const entryC: () => EntrySpec = () => ({ id: ID_C, name: 'tampered', artifact: tampered });

beforeAll(async () => {
  await buildAgent();
  dir = await mkdtemp(join(tmpdir(), 'tsw-daemon-'));
  layoutDir = join(dir, 'layout');
  tracker = await startTracker();
  server = await startStaticServer(layoutDir);
  pki = await createTestPki(join(dir, 'pki'));
  image = await makeArtifact(join(dir, 'a'), {
    fileName: 'slc.qcow2',
    sizeBytes: 8 << 20,
    announce: [tracker.announceUrl],
  });
  other = await makeArtifact(join(dir, 'b'), {
    fileName: 'b.qcow2',
    sizeBytes: 1 << 20,
    announce: [tracker.announceUrl],
  });
  tampered = await makeArtifact(join(dir, 'c'), {
    fileName: 'c.qcow2',
    sizeBytes: 1 << 20,
    announce: [tracker.announceUrl],
  });
  // The origin: one seeding peer holding the image (what the catalog server's seeder does).
  await preinstall(join(dir, 'origin'), ID_A, image);
  const origin = spawnFetch({
    artifact: image,
    entryId: ID_A,
    dataDir: join(dir, 'origin'),
    seed: true,
  });
  helpers.push(origin);
  await origin.waitFor((e) => e.event === 'seeding');
}, 120_000);

afterAll(async () => {
  await stopAll([...agents, ...helpers]);
  await tracker?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function waitForFile(path: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await readFile(path, 'utf8').catch(() => '');
    if (pattern.test(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  return text;
}

function agentConfig(i: number): Record<string, unknown> {
  const hookLog = join(dir, `hooks-${i}.log`);
  const hook = [
    '/bin/sh',
    '-c',
    `echo "$TSW_EVENT $TSW_ENTRY_ID $TSW_ENTRY_NAME $TSW_ENTRY_PATH" >> ${hookLog}`,
  ];
  return {
    site: SITE,
    layoutUrl: server.baseUrl,
    host: { name: `hv${i}`, cluster: 'c1' },
    trust: { caPath: pki.caPathDir, siteSigners: [pki.site.rule] },
    poll: { intervalSeconds: 1, retrySeconds: 1, timeoutSeconds: 5 },
    transfer: {
      torrentPort: 0,
      listenAddress: '127.0.0.1',
      dht: { enabled: false },
      webSeed: { enabled: false },
    },
    lifecycle: { onRevoke: 'remove', graceSeconds: 0 },
    hooks: { available: [hook], expiring: [hook], removed: [hook] },
    log: { level: 'warn' },
    // The last agent serves its API on a unix socket instead of 127.0.0.1.
    ...(i === 4 ? { api: { listen: `unix:${join(dir, `agent-${i}`, 'api.sock')}` } } : {}),
  };
}

describe('five agents on one site', () => {
  it('verify, select, download and install the approved image, hashes matching', async () => {
    catalogV1 = await publishCatalog(layoutDir, [pki.endorsers.alice], {
      id: CATALOG,
      version: 1,
      entries: [entryA(), entryB()],
    });
    await publishApproval(layoutDir, pki, {
      site: SITE,
      version: 1,
      catalogs: [{ catalog: catalogV1, entries: [entryA(), entryB()] }],
    });
    for (let i = 0; i < 5; i++) agents.push(await spawnAgent(join(dir, `agent-${i}`), agentConfig(i)));
    await Promise.all(
      agents.map((a) => a.waitForStatus((s) => s.installed.some((e) => e.entryId === ID_A), 90_000)),
    );
    for (const [i, a] of agents.entries()) {
      const status = await a.status();
      const installed = status.installed.find((e) => e.entryId === ID_A);
      expect(installed?.path).toBe(join(a.dataDir, 'images', ID_A, 'slc.qcow2'));
      expect(await sha256File(String(installed?.path))).toBe(image.sha256);
      // entry-b is for cluster c2: approved, but not for these hosts.
      expect(status.installed.map((e) => e.entryId)).toEqual([ID_A]);
      expect(status.transfers.find((t) => t.infoHash === image.info.infoHash)?.state).toBe('seeding');
      const hooks = await readFile(join(dir, `hooks-${i}.log`), 'utf8');
      expect(hooks).toContain(`available ${ID_A} slc-kvm ${installed?.path}`);
    }
  }, 120_000);

  it('shows a status table, serves metrics and changes rates at run time', async () => {
    const agent = agents[0];
    const socketAgent = agents[4];
    if (!agent || !socketAgent) throw new Error('no agent');
    expect(socketAgent.api).toMatch(/^unix:.*api\.sock$/);
    expect((await stat(socketAgent.api.slice(5))).mode & 0o777).toBe(0o660);
    const overSocket = await execa('node', [cliPath, 'status', '--api', socketAgent.api, '--json']);
    expect(JSON.parse(overSocket.stdout).installed).toHaveLength(1);
    const table = await execa('node', [cliPath, 'status', '--api', agent.api]);
    expect(table.stdout).toMatch(/site CERN-TEST · approval v1 valid/);
    expect(table.stdout).toMatch(new RegExp(`${ID_A}\\s+slc-kvm\\s+seeding`));
    const metrics = String(await apiRequest(agent.api, 'GET', '/metrics'));
    expect(metrics).toMatch(/^tsw_agent_installed_entries 1$/m);
    expect(metrics).toMatch(
      /tsw_agent_torrent_peak_connections\{info_hash="[0-9a-f]{40}",state="seeding"\} \d+/,
    );
    const changed = await execa('node', [
      cliPath,
      'rates',
      '--api',
      agent.api,
      '--up',
      '1000000',
      '--down',
      '2000000',
    ]);
    expect(JSON.parse(changed.stdout)).toEqual({
      uploadLimitBytesPerSecond: 1000000,
      downloadLimitBytesPerSecond: 2000000,
    });
    const status = (await apiRequest(agent.api, 'GET', '/status')) as { rates: unknown };
    expect(status.rates).toEqual({
      uploadLimitBytesPerSecond: 1000000,
      downloadLimitBytesPerSecond: 2000000,
    });
    const bad = await execa('node', [cliPath, 'rates', '--api', agent.api, '--up=1.5'], { reject: false });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^tsw-agent: CONFIG_INVALID: --up 1.5: expected bytes per second$/);
  });

  it('refuses a mirror replaying an older approval and keeps the newer one', async () => {
    // The catalog is unchanged (published once, as an endorser would); only the approval moves on.
    const published = catalogV1;
    const v1 = {
      bytes: await readFile(join(layoutDir, `sites/${SITE}/approval.yaml`)),
      signature: await readFile(join(layoutDir, `sites/${SITE}/approval.yaml.p7s`)),
    };
    approvalV2 = await publishApproval(layoutDir, pki, {
      site: SITE,
      version: 2,
      catalogs: [{ catalog: published, entries: [entryA()] }],
    });
    await Promise.all(agents.map((a) => a.waitForStatus((s) => s.approval?.version === 2)));
    await setApproval(layoutDir, SITE, v1);
    for (const a of agents) {
      const s = await a.waitForStatus((st) => st.lastSync?.kind === 'refused');
      expect(s.lastSync).toMatchObject({ kind: 'refused', code: 'ROLLBACK' });
      expect(JSON.stringify(s.lastSync)).toMatch(/version 1 is older than version 2 already seen/);
      expect(s.approval?.version).toBe(2);
      expect(s.installed.map((e) => e.entryId)).toEqual([ID_A]);
    }
  });

  it('refuses a .torrent whose bytes differ from the catalog and installs nothing for it', async () => {
    catalogV2 = await publishCatalog(layoutDir, [pki.endorsers.alice], {
      id: CATALOG,
      version: 2,
      entries: [entryA(), entryC()],
    });
    // The mirror serves a different .torrent (another announce URL) under the same info hash.
    const path = join(layoutDir, 'torrents', `${tampered.info.infoHash}.torrent`);
    const bytes = await readFile(path);
    await writeFile(path, Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from('ee')]));
    await publishApproval(layoutDir, pki, {
      site: SITE,
      version: 3,
      catalogs: [{ catalog: catalogV2, entries: [entryA(), entryC()] }],
    });
    for (const a of agents) {
      const s = await a.waitForStatus((st) =>
        st.jobs.some((j) => j.entryId === ID_C && j.state === 'failed'),
      );
      expect(s.jobs.find((j) => j.entryId === ID_C)?.error).toMatchObject({ code: 'HASH_MISMATCH' });
      expect(s.installed.map((e) => e.entryId)).toEqual([ID_A]);
      expect(existsSync(join(a.dataDir, 'images', ID_C))).toBe(false);
    }
  });

  it('keeps the verified approval and keeps seeding while the server is down', async () => {
    server.down = true;
    try {
      for (const a of agents) {
        const s = await a.waitForStatus((st) => st.lastSync?.kind === 'unreachable');
        expect(s.approval).toMatchObject({ version: 3, valid: true });
        expect(s.installed.map((e) => e.entryId)).toEqual([ID_A]);
        expect(s.transfers.find((t) => t.infoHash === image.info.infoHash)?.state).toBe('seeding');
      }
      // A restart while the server is down: the cached bundle is re-verified and used.
      const first = agents[0];
      if (!first) throw new Error('no agent');
      first.proc.kill('SIGTERM');
      await first.proc;
      const restarted = await spawnAgent(first.dataDir, agentConfig(0));
      agents[0] = restarted;
      const s = await restarted.waitForStatus(
        (st) => st.lastSync?.kind === 'unreachable' && st.transfers.some((t) => t.state === 'seeding'),
      );
      expect(s.approval).toMatchObject({ version: 3, valid: true });
      expect(s.installed.map((e) => e.entryId)).toEqual([ID_A]);
    } finally {
      server.down = false;
    }
  });

  it('removes a revoked entry after the grace period and runs the hooks', async () => {
    const published = catalogV2;
    await publishApproval(layoutDir, pki, {
      site: SITE,
      version: 4,
      catalogs: [{ catalog: published, entries: [] }],
    });
    for (const [i, a] of agents.entries()) {
      const s = await a.waitForStatus((st) => st.approval?.version === 4 && st.installed.length === 0);
      expect(s.transfers.some((t) => t.infoHash === image.info.infoHash)).toBe(false);
      expect(existsSync(join(a.dataDir, 'images', ID_A))).toBe(false);
      // Hooks run after the state change is saved; give the last one a moment.
      const hooks = await waitForFile(join(dir, `hooks-${i}.log`), new RegExp(`^removed ${ID_A}`, 'm'));
      expect(hooks).toMatch(new RegExp(`^expiring ${ID_A} slc-kvm `, 'm'));
      expect(hooks).toMatch(new RegExp(`^removed ${ID_A} slc-kvm `, 'm'));
    }
    expect(approvalV2.bytes.length).toBeGreaterThan(0);
  });
  it('cancels a download whose entry is revoked mid-way and leaves no staging data', async () => {
    const agent = agents[0];
    if (!agent) throw new Error('no agent');
    const slow = await makeArtifact(join(dir, 'd'), {
      fileName: 'd.qcow2',
      sizeBytes: 16 << 20,
      announce: [tracker.announceUrl],
    });
    await preinstall(join(dir, 'origin-d'), 'd', slow);
    const seeder = spawnFetch({ artifact: slow, entryId: 'd', dataDir: join(dir, 'origin-d'), seed: true });
    helpers.push(seeder);
    await seeder.waitFor((e) => e.event === 'seeding');
    // Only host hv0 is listed, and its download rate is lowered at run time so it is caught mid-way.
    await execa('node', [cliPath, 'rates', '--api', agent.api, '--down', '1000000']);
    const entryD: EntrySpec = { id: randomUUID(), name: 'slow', artifact: slow, hosts: ['hv0'] };
    const catalogV3 = await publishCatalog(layoutDir, [pki.endorsers.alice], {
      id: CATALOG,
      version: 3,
      entries: [entryD],
    });
    await publishApproval(layoutDir, pki, {
      site: SITE,
      version: 5,
      catalogs: [{ catalog: catalogV3, entries: [entryD] }],
    });
    await agent.waitForStatus((st) =>
      st.transfers.some(
        (t) => t.infoHash === slow.info.infoHash && t.state === 'downloading' && t.progress > 0,
      ),
    );
    const staging = join(agent.dataDir, 'staging', slow.info.infoHash);
    expect(existsSync(staging)).toBe(true);
    for (const other of agents.slice(1)) {
      const st = await other.waitForStatus((x) => x.approval?.version === 5);
      expect(st.jobs).toEqual([]); // not for these hosts
    }
    await publishApproval(layoutDir, pki, {
      site: SITE,
      version: 6,
      catalogs: [{ catalog: catalogV3, entries: [] }],
    });
    const s = await agent.waitForStatus((st) => st.approval?.version === 6 && st.jobs.length === 0);
    expect(s.transfers.some((t) => t.infoHash === slow.info.infoHash)).toBe(false);
    expect(s.installed).toEqual([]);
    expect(existsSync(staging)).toBe(false);
    expect(existsSync(join(agent.dataDir, 'images', entryD.id))).toBe(false);
  });
  it('links a second entry with the same artifact instead of downloading it twice', async () => {
    const agent = agents[1];
    if (!agent) throw new Error('no agent');
    await preinstall(join(dir, 'origin-b'), 'b', other);
    const seeder = spawnFetch({ artifact: other, entryId: 'b', dataDir: join(dir, 'origin-b'), seed: true });
    helpers.push(seeder);
    await seeder.waitFor((e) => e.event === 'seeding');
    const one: EntrySpec = { id: randomUUID(), name: 'twin-one', artifact: other, hosts: ['hv1'] };
    const two: EntrySpec = { id: randomUUID(), name: 'twin-two', artifact: other, hosts: ['hv1'] };
    const catalogV4 = await publishCatalog(layoutDir, [pki.endorsers.alice], {
      id: CATALOG,
      version: 4,
      entries: [one, two],
    });
    await publishApproval(layoutDir, pki, {
      site: SITE,
      version: 7,
      catalogs: [{ catalog: catalogV4, entries: [one, two] }],
    });
    const both = await agent.waitForStatus((st) => st.installed.length === 2);
    const paths = both.installed.map((e) => e.path);
    for (const path of paths) expect(await sha256File(path)).toBe(other.sha256);
    const [first, second] = await Promise.all(paths.map((p) => stat(p)));
    expect(first?.ino).toBe(second?.ino); // one copy on disk, hard-linked
    expect(both.transfers.filter((t) => t.infoHash === other.info.infoHash).map((t) => t.state)).toEqual([
      'seeding',
    ]);

    // Retiring one keeps the other installed and still seeding.
    await publishApproval(layoutDir, pki, {
      site: SITE,
      version: 8,
      catalogs: [{ catalog: catalogV4, entries: [two] }],
    });
    const left = await agent.waitForStatus((st) => st.approval?.version === 8 && st.installed.length === 1);
    expect(left.installed.map((e) => e.entryId)).toEqual([two.id]);
    const kept = left.installed[0]?.path ?? '';
    expect(await sha256File(kept)).toBe(other.sha256);
    const seeding = await agent.waitForStatus((st) =>
      st.transfers.some((t) => t.infoHash === other.info.infoHash && t.state === 'seeding'),
    );
    expect(seeding.transfers.filter((t) => t.infoHash === other.info.infoHash)).toHaveLength(1);
  });
});
