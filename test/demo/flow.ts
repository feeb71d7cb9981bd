// The whole TrustSwarm flow in one command, every component a real process on 127.0.0.1:
// a catalog server on embedded defaults, a test PKI, two endorsers who build and sign a
// catalog (a generated VM image and a software snapshot), a site admin who approves both
// through the API, three agents that fetch the image over BitTorrent, and the bridge that
// publishes the snapshot into a native CVMFS repository, read back through the verifying
// reader. Usage: npm run demo [-- --keep] [-- --image-mib N]

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Agent, startAgent, stopAll } from './lib/processes.js';
import { Progress } from './lib/progress.js';
import { addImage, agentConfig, makeSnapshot, signAndPublish, startBridge, startSite } from './lib/site.js';

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

async function main(dir: string): Promise<void> {
  say('making a test PKI, starting the catalog server (SQLite, local artifact directory, embedded tracker)');
  const site = await startSite(dir, { name: SITE, threshold: 2 });
  const { alice, bob } = site.pki.endorsers;
  console.log(`    ${site.server.url}  site ${SITE}: trusts Alice and Bob, 2 of 2 signatures required`);
  done('test PKI, catalog server up, site configured');

  say(`Alice builds a catalog: a ${IMAGE_BYTES >> 20} MiB VM image and a software snapshot`);
  await site.endorse(alice, ['catalog', 'new', 'cms-production']);
  const { sha256: imageSha256 } = await addImage(site, join(dir, 'alma9-kvm.qcow2'), IMAGE_BYTES);
  const snapshotDir = join(dir, 'cms-14.0.0');
  await makeSnapshot(snapshotDir);
  await site.endorse(alice, [
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
  const catalog = await signAndPublish(site, [alice, bob]);
  done('signed and published');

  say('the site admin approves both entries; the server signs the site approval');
  for (const entry of catalog.entries) await site.approve(catalog, entry.id);
  await site.signApproval();
  done('approved');

  say(`${AGENTS} agents verify both signatures and fetch the image over BitTorrent`);
  const agents: Agent[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const dataDir = join(dir, `hv${i}`);
    agents.push(await startAgent(`hv${i}`, dataDir, agentConfig(site, `hv${i}`)));
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

  say(`tsw-bridge run follows the approval too, fetches the snapshot and publishes it into ${REPO}`);
  const bridge = await startBridge(site, join(dir, 'bridge'), REPO);
  await bridge.waitFor(`${SNAPSHOT_PATH}/README`, 90_000);
  await bridge.cli(['repo', 'verify', REPO]);
  const readBack = await bridge.cli(['repo', 'cat', REPO, `${SNAPSHOT_PATH}/README`]);
  const original = await readFile(join(snapshotDir, 'README'), 'utf8');
  if (readBack !== original.replace(/\n$/, '') && readBack !== original) {
    throw new Error(`CVMFS read-back differs: ${JSON.stringify(readBack)} vs ${JSON.stringify(original)}`);
  }
  const listing = await bridge.cli(['repo', 'ls', REPO, SNAPSHOT_PATH]);
  console.log(
    `    /cvmfs/${REPO}${SNAPSHOT_PATH}: ${listing.trim().split('\n').length} entries; README read back through the verifying reader matches`,
  );
  done('published into CVMFS and read back');

  const total = (performance.now() - started) / 1000;
  console.log(`\n\u001b[1mTrustSwarm demo: done in ${total.toFixed(1)} s\u001b[0m`);
  for (const [what, ms] of timings) console.log(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${what}`);
  if (values.keep) {
    console.log(`\nStill running (Ctrl-C stops and cleans up):`);
    console.log(`  catalog server  ${site.server.url}   API docs ${site.server.url}/docs`);
    console.log(`  site view       ${site.server.url}/sites/${SITE}/index.html`);
    console.log(`  web UI          ${site.server.url}/ui/  sign in as ${site.adminLogin.name}`);
    console.log(`                  password ${site.adminLogin.password}`);
    console.log(
      `                  TOTP secret ${site.adminLogin.totpSecret} (otpauth://totp/TrustSwarm:admin?secret=${site.adminLogin.totpSecret})`,
    );
    console.log(`  admin API token ${site.adminToken}`);
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
