// The whole TrustSwarm flow in one command, every component a real process on 127.0.0.1:
// a catalog server on embedded defaults, a test PKI, two endorsers who build and sign a
// catalog (a generated VM image and a software snapshot), a site admin who approves both
// through the API, three agents that fetch the image over BitTorrent, and the bridge that
// publishes the snapshot into a native CVMFS repository, read back through the verifying
// reader. Usage: npm run demo [-- --keep] [-- --image-mib N]

import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createTestPki, type TestIdentity, type TestPki } from '@trustswarm/policy/testing';
import { apiClient } from './lib/api.js';
import {
  type Agent,
  BIN,
  run,
  startAgent,
  startCatalogServer,
  stopAll,
  writeCatalogServerConfig,
} from './lib/processes.js';
import { Progress } from './lib/progress.js';

const { values } = parseArgs({
  options: {
    keep: { type: 'boolean', default: false },
    'image-mib': { type: 'string', default: '256' },
    agents: { type: 'string', default: '3' },
  },
});
const IMAGE_BYTES = Number(values['image-mib']) * 1024 * 1024;
const AGENTS = Number(values.agents);
const SITE = 'DEMO-SITE';
const REPO = 'sw.example.org';
const SNAPSHOT_PATH = '/cms/14.0.0';

const started = performance.now();
const timings: Array<[string, number]> = [];
let mark = performance.now();
const say = (text: string) => console.log(`\u001b[1m▸\u001b[0m ${text}`);
const done = (what: string) => {
  const now = performance.now();
  timings.push([what, now - mark]);
  mark = now;
};

async function makeImage(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let written = 0; written < bytes; written += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, bytes - written));
    randomFillSync(part);
    hash.update(part);
    if (!out.write(part)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  out.end();
  await finished(out);
  return hash.digest('hex');
}

async function makeSnapshot(dir: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'lib'), { recursive: true });
  await writeFile(join(dir, 'README'), 'CMS software 14.0.0, published through TrustSwarm.\n');
  await writeFile(join(dir, 'bin', 'cmsRun'), '#!/bin/sh\necho "cmsRun 14.0.0"\n', { mode: 0o755 });
  await writeFile(join(dir, 'lib', 'libcore.so'), randomBytes(2 * 1024 * 1024));
}

function endorse(
  ws: string,
  cfg: string,
  who: TestIdentity,
  args: string[],
  env: Record<string, string> = {},
) {
  return run(
    BIN.endorse,
    ['-C', ws, '--config', cfg, '--cert', who.certPath, '--key', who.keyPath, ...args],
    env,
  );
}

async function main(dir: string): Promise<void> {
  say('making a test PKI: root CA → issuing CA → endorsers Alice and Bob, the site certificate, CRLs');
  const pki: TestPki = await createTestPki(join(dir, 'pki'));
  const { alice, bob } = pki.endorsers;
  done('test PKI');

  say('starting the catalog server (SQLite, local artifact directory, embedded tracker)');
  const serverConfig = await writeCatalogServerConfig(join(dir, 'server'), pki.caPathDir);
  const admin = ['--config', serverConfig];
  await run(BIN.catalog, ['user', 'add', 'admin', '--role', 'admin', ...admin]);
  await run(BIN.catalog, [
    'user',
    'add',
    'alice',
    '--role',
    'endorser',
    '--endorser-cert',
    alice.certPath,
    ...admin,
  ]);
  const adminToken = (await run(BIN.catalog, ['token', 'create', 'admin', ...admin])).trim();
  const aliceToken = (await run(BIN.catalog, ['token', 'create', 'alice', ...admin])).trim();
  const server = await startCatalogServer(serverConfig);
  const api = apiClient(server.url, adminToken);
  await api.post('/sites', { name: SITE, threshold: 2 });
  await api.put(`/sites/${SITE}/signer`, {
    certificatePem: pki.site.certificatePem,
    privateKeyPem: pki.site.privateKeyPem,
    chainPem: pki.site.chainPem.join(''),
  });
  for (const e of [alice, bob]) await api.post(`/sites/${SITE}/endorsers`, e.rule);
  console.log(`    ${server.url}  site ${SITE}: trusts Alice and Bob, 2 of 2 signatures required`);
  done('catalog server up, site configured');

  say(`Alice builds a catalog: a ${IMAGE_BYTES >> 20} MiB VM image and a software snapshot`);
  const ws = join(dir, 'endorser');
  await mkdir(ws, { recursive: true });
  const imagePath = join(dir, 'alma9-kvm.qcow2');
  const imageSha256 = await makeImage(imagePath, IMAGE_BYTES);
  const snapshotDir = join(dir, 'cms-14.0.0');
  await makeSnapshot(snapshotDir);
  const endorseConfig = join(ws, 'endorse.yaml');
  await writeFile(
    endorseConfig,
    JSON.stringify({
      torrent: { announce: [`${server.url}/announce`], webSeedBase: server.url },
      server: { url: server.url },
      verify: { caPath: pki.caPathDir },
    }),
  );
  await endorse(ws, endorseConfig, alice, ['catalog', 'new', 'cms-production']);
  await endorse(ws, endorseConfig, alice, [
    'add',
    'image',
    imagePath,
    '--name',
    'alma9-kvm',
    '--entry-version',
    '2026.11',
    '--os',
    'linux',
    '--arch',
    'x86_64',
    '--hypervisor',
    'kvm',
    '--format',
    'qcow2',
    '--vo',
    'cms',
  ]);
  await endorse(ws, endorseConfig, alice, [
    'add',
    'repo-snapshot',
    snapshotDir,
    '--name',
    'cms-sw',
    '--entry-version',
    '14.0.0',
    '--repository',
    REPO,
    '--path',
    SNAPSHOT_PATH,
    '--vo',
    'cms',
  ]);
  done('catalog built (hashes and .torrent files)');

  say('Alice and Bob each sign the exact bytes on their own machine; Alice publishes');
  await endorse(ws, endorseConfig, alice, ['sign']);
  await endorse(ws, endorseConfig, bob, ['sign']);
  await endorse(ws, endorseConfig, alice, ['publish', '--server', server.url], {
    TSW_SERVER_TOKEN: aliceToken,
  });
  const { catalog } = JSON.parse(await endorse(ws, endorseConfig, alice, ['--json', 'catalog', 'show'])) as {
    catalog: { id: string; version: number; entries: Array<{ id: string; kind: string; name: string }> };
  };
  done('signed and published');

  say('the site admin approves both entries; the server signs the site approval');
  for (const entry of catalog.entries)
    await api.post(`/sites/${SITE}/approvals`, { catalogId: catalog.id, entryId: entry.id });
  await api.post(`/sites/${SITE}/approval/sign`, {});
  done('approved');

  const agentBase = {
    site: SITE,
    layoutUrl: server.url,
    trust: { caPath: pki.caPathDir, siteSigners: [pki.site.rule] },
    poll: { intervalSeconds: 2, retrySeconds: 1, timeoutSeconds: 10 },
    transfer: {
      torrentPort: 0,
      dht: { enabled: false },
      webSeed: { enabled: true, delaySeconds: 20, noPeerGraceSeconds: 2 },
    },
    log: { level: 'warn' },
  };
  say(`${AGENTS} agents verify both signatures and fetch the image over BitTorrent`);
  const agents: Agent[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const dataDir = join(dir, `hv${i}`);
    agents.push(
      await startAgent(`hv${i}`, dataDir, { ...agentBase, host: { name: `hv${i}`, kinds: ['vm-image'] } }),
    );
  }
  const image = catalog.entries.find((e) => e.kind === 'vm-image');
  const snapshot = catalog.entries.find((e) => e.kind === 'repo-snapshot');
  if (!image || !snapshot) throw new Error('the catalog lacks the image or the snapshot');
  const progress = new Progress(agents);
  const installed = await progress.until(image.id, 110_000);
  for (const path of installed) {
    const sha = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
    if (sha !== imageSha256)
      throw new Error(`${path}: sha256 ${sha} differs from the endorsed ${imageSha256}`);
  }
  console.log(
    `    all ${AGENTS} agents installed ${image.name}; sha256 matches the endorsed ${imageSha256.slice(0, 16)}…`,
  );
  done(`${AGENTS} agents downloaded and installed`);

  say(`the bridge fetches the approved snapshot the same verified way and publishes it into ${REPO}`);
  const bridgeDir = join(dir, 'bridge');
  const fetcher = await startAgent('bridge', join(dir, 'bridge-fetch'), {
    ...agentBase,
    host: { name: 'bridge', kinds: ['repo-snapshot'] },
  });
  const [tarPath] = await new Progress([fetcher]).until(snapshot.id, 60_000, false);
  const bridge = ['--storage-dir', join(bridgeDir, 'public'), '--state-dir', join(bridgeDir, 'state')];
  await run(BIN.bridge, [...bridge, 'repo', 'create', REPO]);
  await run(BIN.bridge, [...bridge, 'repo', 'publish', REPO, String(tarPath), '--path', SNAPSHOT_PATH]);
  await run(BIN.bridge, [...bridge, 'repo', 'verify', REPO]);
  const readBack = await run(BIN.bridge, [...bridge, 'repo', 'cat', REPO, `${SNAPSHOT_PATH}/README`]);
  const original = await readFile(join(snapshotDir, 'README'), 'utf8');
  if (readBack !== original.replace(/\n$/, '') && readBack !== original) {
    throw new Error(`CVMFS read-back differs: ${JSON.stringify(readBack)} vs ${JSON.stringify(original)}`);
  }
  const listing = await run(BIN.bridge, [...bridge, 'repo', 'ls', REPO, SNAPSHOT_PATH]);
  console.log(
    `    /cvmfs/${REPO}${SNAPSHOT_PATH}: ${listing.trim().split('\n').length} entries; README read back through the verifying reader matches`,
  );
  done('published into CVMFS and read back');

  const total = (performance.now() - started) / 1000;
  console.log(`\n\u001b[1mTrustSwarm demo: done in ${total.toFixed(1)} s\u001b[0m`);
  for (const [what, ms] of timings) console.log(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${what}`);
  if (values.keep) {
    console.log(`\nStill running (Ctrl-C stops and cleans up):`);
    console.log(`  catalog server  ${server.url}   API docs ${server.url}/docs`);
    console.log(`  site view       ${server.url}/sites/${SITE}/index.html`);
    console.log(`  admin API token ${adminToken}`);
    console.log(`  files           ${dir}`);
    await new Promise(() => undefined);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'trustswarm-demo-'));
let cleaning = false;
const cleanup = async (code: number) => {
  if (cleaning) return;
  cleaning = true;
  await stopAll();
  await rm(dir, { recursive: true, force: true });
  process.exit(code);
};
process.on('SIGINT', () => void cleanup(130));
process.on('SIGTERM', () => void cleanup(143));
try {
  await main(dir);
  await cleanup(0);
} catch (err) {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  const files = await readdir(dir).catch(() => []);
  if (files.length) console.error(`(work files were in ${dir}; removed)`);
  await cleanup(1);
}
