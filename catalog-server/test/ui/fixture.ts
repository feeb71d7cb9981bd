// A real tsw-catalog with the web UI, started in-process: test PKI, a TOTP admin, an endorser,
// a site with signer and trust list, and published catalogs (one with 1,000 entries).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Catalog,
  type CatalogEntry,
  identityOf,
  serializeDocument,
  signDetached,
} from '@trustswarm/policy';
import {
  createTestPki,
  makeCatalog,
  makeEntry,
  type TestIdentity,
  type TestPki,
} from '@trustswarm/policy/testing';
import { loadConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { uiPlugin } from '../../src/ui/plugin.js';
import { publishForm } from '../helpers.js';

export const chromiumPath = '/usr/bin/chromium';
/** Playwright adds a fresh temporary --user-data-dir to every launch. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const site = 'SITE-A';
export const adminName = 'root';
export const adminPassword = 'correct horse battery staple';
export const endorserPassword = 'alice endorses artifacts';
const packageDir = fileURLToPath(new URL('../../', import.meta.url));

export interface UiFixture {
  server: RunningServer;
  pki: TestPki;
  totpSecret: string;
  small: { catalog: Catalog; vm: CatalogEntry; other: CatalogEntry };
  big: Catalog;
  /** Signed by alice and by carol, whose certificate is revoked since. */
  legacy: Catalog;
  longDn: TestIdentity;
  aliceToken: string;
  cleanup(): Promise<void>;
}

/**
 * Compiles ui/src into a private directory and returns it, so the test serves exactly the current
 * sources and test files running side by side never write the same files.
 */
export async function buildUi(): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'tsw-ui-assets-'));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const args = [
    '-p',
    join(packageDir, 'ui', 'tsconfig.json'),
    '--outDir',
    out,
    '--tsBuildInfoFile',
    join(out, 'tsbuildinfo'),
  ];
  try {
    execFileSync(process.execPath, [tsc, ...args], { stdio: 'pipe' });
  } catch (err) {
    const output = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`the web UI does not compile:\n${output}`);
  }
  return out;
}

export function requireChromium(): void {
  if (!existsSync(chromiumPath))
    throw new Error(
      `${chromiumPath} is missing: install Debian's chromium (apt-get install -y chromium; scripts/apt-packages.txt lists it)`,
    );
}

async function api(server: RunningServer, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response;
}

async function publish(server: RunningServer, token: string, catalog: Catalog, signers: TestIdentity[]) {
  const bytes = serializeDocument(catalog);
  const response = await fetch(`${server.url}/api/v1/catalogs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: publishForm(
      bytes,
      signers.map((s) => signDetached(bytes, s)),
    ),
  });
  if (response.status !== 201) throw new Error(`publish: ${response.status} ${await response.text()}`);
}

/** A raw HTTP announce to the embedded tracker, as an agent sends it (left = bytes still missing). */
async function announce(base: string, infoHashHex: string, left: number): Promise<void> {
  const pct = (hex: string) => hex.replace(/../g, (b) => `%${b}`);
  const peerId = randomBytes(20).toString('hex');
  const port = 6881 + left;
  const url = `${base}/announce?info_hash=${pct(infoHashHex)}&peer_id=${pct(peerId)}&port=${port}&uploaded=0&downloaded=0&left=${left}&compact=1&event=started`;
  const response = await fetch(url);
  const body = Buffer.from(await response.arrayBuffer()).toString('latin1');
  if (response.status !== 200 || body.includes('failure reason'))
    throw new Error(`announce refused: ${body}`);
}

export async function startUiFixture(): Promise<UiFixture> {
  const scriptsDir = await buildUi();
  const dir = await mkdtemp(join(tmpdir(), 'tsw-ui-'));
  const pki = await createTestPki(join(dir, 'pki'));
  const config = loadConfig({
    overrides: {
      server: { port: 0 },
      storage: { sqlitePath: join(dir, 'catalog.db') },
      blobs: { directory: join(dir, 'blobs') },
      trust: { caPath: pki.caPathDir },
      approval: { cacheSeconds: 0 },
      static: { cacheMaxAgeSeconds: 0 },
    },
  });
  const server = await startServer(config, { ui: uiPlugin({ scriptsDir }) });
  const { services } = server;
  const { totpSecret } = await services.accounts.createUser(
    { name: adminName, password: adminPassword, roles: [{ role: 'admin' }], totp: true },
    'test',
  );
  if (!totpSecret) throw new Error('no TOTP secret returned');
  const { user: admin } = await services.accounts.createUser(
    { name: 'setup', roles: [{ role: 'admin' }] },
    'test',
  );
  const adminToken = (await services.accounts.createToken(admin, {}, 'test')).token;
  const { user: alice } = await services.accounts.createUser(
    {
      name: 'alice',
      password: endorserPassword,
      roles: [{ role: 'endorser' }],
      endorserIdentity: identityOf(pki.endorsers.alice.certificate).key,
    },
    'test',
  );
  const aliceToken = (await services.accounts.createToken(alice, {}, 'test')).token;
  // DNs longer than any screen is wide: the layout must wrap them
  const longDn = pki.issue(`Endorser With A Deliberately Long Common Name For Wrapping Tests`, {
    ou: 'Department-of-Distributed-Artifact-Endorsement-and-Very-Long-Names',
    notAfter: new Date(Date.now() + 10 * 86_400_000),
  });

  await api(server, adminToken, 'POST', '/sites', { name: site, threshold: 1 });
  await api(server, adminToken, 'PUT', `/sites/${site}/signer`, {
    certificatePem: pki.site.certificatePem,
    privateKeyPem: pki.site.privateKeyPem,
    chainPem: pki.site.chainPem.join(''),
  });
  await api(server, adminToken, 'POST', `/sites/${site}/endorsers`, pki.endorsers.alice.rule);
  await api(server, adminToken, 'POST', `/sites/${site}/endorsers`, longDn.rule);
  await api(server, adminToken, 'POST', `/sites/${site}/endorsers`, pki.endorsers.carol.rule);

  const vm = makeEntry({ kind: 'vm-image', name: 'vm64-alma9', version: '2026.11' });
  const other = makeEntry({ kind: 'vm-image', name: 'vm64-debian12', version: '2026.10' });
  const small = makeCatalog({ name: 'cern-vm-images', entries: [vm, other], endorser: { name: 'Alice' } });
  await publish(server, aliceToken, small, [pki.endorsers.alice]);
  const big = makeCatalog({
    name: 'bulk-snapshots',
    entries: Array.from({ length: 1000 }, (_, i) =>
      makeEntry({ kind: 'vm-image', name: `bulk-image-${String(i).padStart(4, '0')}` }),
    ),
  });
  await publish(server, aliceToken, big, [pki.endorsers.alice, longDn]);

  const legacy = makeCatalog({ name: 'legacy-tools', entries: [makeEntry({ name: 'legacy-image' })] });
  await publish(server, aliceToken, legacy, [pki.endorsers.alice, pki.endorsers.carol]);
  // carol's certificate is revoked after she signed: the server now reads the new CRL, as it
  // would after a restart, and re-checks every signature when a version is shown
  pki.revoke(pki.endorsers.carol);
  services.anchors = pki.writeCaPath();

  // two agents in the swarm of the first bulk image: one done (seeding), one still downloading
  const busy = big.entries[0]?.artifact?.infoHash ?? '';
  await announce(server.url, busy, 0);
  await announce(server.url, busy, 1024);

  return {
    server,
    legacy,
    pki,
    totpSecret,
    small: { catalog: small, vm, other },
    big,
    longDn,
    aliceToken,
    async cleanup() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
      await rm(scriptsDir, { recursive: true, force: true });
    },
  };
}
