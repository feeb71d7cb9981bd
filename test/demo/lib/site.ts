// One site, set up the way people set it up: a test PKI, a catalog server on embedded
// defaults started as a process, a site with a signer and trusted endorsers, and an
// endorser workspace whose CLI builds, signs and publishes catalogs. The demo and the
// end-to-end tests share it.

import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { createTestPki, type TestIdentity, type TestPki } from '@trustswarm/policy/testing';
import { apiClient } from './api.js';
import {
  BIN,
  type CatalogServer,
  run,
  startCatalogServer,
  startProcess,
  stopProcess,
  writeCatalogServerConfig,
} from './processes.js';

export interface CatalogView {
  id: string;
  version: number;
  entries: Array<{ id: string; kind: string; name: string }>;
}

export interface Site {
  name: string;
  dir: string;
  pki: TestPki;
  serverConfig: string;
  server: CatalogServer;
  api: ReturnType<typeof apiClient>;
  adminToken: string;
  /** web UI sign-in of the admin */
  adminLogin: { name: string; password: string; totpSecret: string };
  aliceToken: string;
  /** Runs tsw-endorse in the endorser workspace as `who`. */
  endorse(who: TestIdentity, args: string[], env?: Record<string, string>): Promise<string>;
  /** Alice's current catalog as `tsw-endorse catalog show` reports it. */
  catalog(): Promise<CatalogView>;
  approve(catalog: CatalogView, entryId: string): Promise<void>;
  revoke(catalog: CatalogView, entryId: string): Promise<void>;
  /** Asks the server to sign a new approval now (it also re-signs on its own schedule). */
  signApproval(): Promise<void>;
}

export async function makeImage(path: string, bytes: number): Promise<string> {
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

export async function makeSnapshot(dir: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'lib'), { recursive: true });
  await writeFile(join(dir, 'README'), 'CMS software 14.0.0, published through TrustSwarm.\n');
  await writeFile(join(dir, 'bin', 'cmsRun'), '#!/bin/sh\necho "cmsRun 14.0.0"\n', { mode: 0o755 });
  await writeFile(join(dir, 'lib', 'libcore.so'), randomBytes(2 * 1024 * 1024));
}

/** Starts a site: PKI, server, signer, endorsers Alice (+ Bob when threshold is 2). */
export async function startSite(
  dir: string,
  opts: { name: string; threshold: 1 | 2; serverHost?: string; serverConfig?: Record<string, unknown> },
): Promise<Site> {
  const pki = await createTestPki(join(dir, 'pki'));
  const { alice, bob } = pki.endorsers;
  const serverConfig = await writeCatalogServerConfig(
    join(dir, 'server'),
    pki.caPathDir,
    opts.serverHost,
    opts.serverConfig,
  );
  const admin = ['--config', serverConfig];
  // The admin can also sign in to the web UI: password plus TOTP, as the server requires.
  const adminPassword = randomBytes(9).toString('base64url');
  const added = await run(
    BIN.catalog,
    [
      'user',
      'add',
      'admin',
      '--role',
      'admin',
      '--password-env',
      'TSW_DEMO_ADMIN_PASSWORD',
      '--totp',
      ...admin,
    ],
    { TSW_DEMO_ADMIN_PASSWORD: adminPassword },
  );
  const totpSecret = /TOTP secret: (\S+)/.exec(added)?.[1] ?? '';
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
  await api.post('/sites', { name: opts.name, threshold: opts.threshold });
  await api.put(`/sites/${opts.name}/signer`, {
    certificatePem: pki.site.certificatePem,
    privateKeyPem: pki.site.privateKeyPem,
    chainPem: pki.site.chainPem.join(''),
  });
  const endorsers = opts.threshold === 2 ? [alice, bob] : [alice];
  for (const e of endorsers) await api.post(`/sites/${opts.name}/endorsers`, e.rule);

  const ws = join(dir, 'endorser');
  await mkdir(ws, { recursive: true });
  const endorseConfig = join(ws, 'endorse.yaml');
  const writeEndorseConfig = (url: string) =>
    writeFile(
      endorseConfig,
      JSON.stringify({
        torrent: { announce: [`${url}/announce`], webSeedBase: url },
        server: { url },
        verify: { caPath: pki.caPathDir },
      }),
    );
  await writeEndorseConfig(server.url);
  const endorse = (who: TestIdentity, args: string[], env: Record<string, string> = {}) =>
    run(
      BIN.endorse,
      ['-C', ws, '--config', endorseConfig, '--cert', who.certPath, '--key', who.keyPath, ...args],
      env,
    );
  const decide = async (path: 'approvals' | 'revocations', catalog: CatalogView, entryId: string) => {
    await api.post(`/sites/${opts.name}/${path}`, { catalogId: catalog.id, entryId });
  };

  const site: Site = {
    name: opts.name,
    dir,
    pki,
    serverConfig,
    server,
    api,
    adminToken,
    adminLogin: { name: 'admin', password: adminPassword, totpSecret },
    aliceToken,
    endorse,
    async catalog() {
      return (JSON.parse(await endorse(alice, ['--json', 'catalog', 'show'])) as { catalog: CatalogView })
        .catalog;
    },
    approve: (catalog, entryId) => decide('approvals', catalog, entryId),
    revoke: (catalog, entryId) => decide('revocations', catalog, entryId),
    async signApproval() {
      await api.post(`/sites/${opts.name}/approval/sign`, {});
    },
  };
  return site;
}

/** Alice adds a VM image of `bytes` random bytes to a new catalog; returns its sha256. */
export async function addImage(
  site: Site,
  path: string,
  bytes: number,
  name = 'alma9-kvm',
): Promise<{ sha256: string }> {
  const sha256 = await makeImage(path, bytes);
  const args = ['--name', name, '--entry-version', '2026.11', '--os', 'linux', '--arch', 'x86_64'];
  await site.endorse(site.pki.endorsers.alice, [
    'add',
    'image',
    path,
    ...args,
    '--hypervisor',
    'kvm',
    '--format',
    'qcow2',
    '--vo',
    'cms',
  ]);
  return { sha256 };
}

/** Signs the workspace catalog by every trusted endorser and publishes it as Alice. */
export async function signAndPublish(site: Site, signers: TestIdentity[]): Promise<CatalogView> {
  for (const who of signers) await site.endorse(who, ['sign']);
  await site.endorse(site.pki.endorsers.alice, ['publish', '--server', site.server.url], {
    TSW_ENDORSE_SERVER_TOKEN: site.aliceToken,
  });
  return site.catalog();
}

/** An agent configuration for this site, tuned for fast loopback tests. */
export function agentConfig(site: Site, host: string, overrides: Record<string, unknown> = {}): object {
  const { transfer, ...rest } = overrides as { transfer?: Record<string, unknown> };
  return {
    site: site.name,
    layoutUrl: site.server.url,
    host: { name: host, kinds: ['vm-image'] },
    trust: { caPath: site.pki.caPathDir, siteSigners: [site.pki.site.rule] },
    poll: { intervalSeconds: 1, retrySeconds: 1, timeoutSeconds: 10 },
    transfer: {
      torrentPort: 0,
      listenAddress: '127.0.0.1',
      dht: { enabled: false },
      webSeed: { enabled: true, delaySeconds: 20, noPeerGraceSeconds: 2 },
      ...transfer,
    },
    log: { level: 'warn' },
    ...rest,
  };
}

export interface Bridge {
  /** Runs a `tsw-bridge` command on the bridge's storage and state. */
  cli(args: string[]): Promise<string>;
  /** Waits until `path` is readable in the repository's published revision. */
  waitFor(path: string, timeoutMs: number): Promise<void>;
  /** Waits until `path` is gone from the published revision. */
  waitForGone(path: string, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** `tsw-bridge run` following the site's approval, publishing repo-snapshot entries into `repo`. */
export async function startBridge(site: Site, dir: string, repo: string): Promise<Bridge> {
  const storage = ['--storage-dir', join(dir, 'public'), '--state-dir', join(dir, 'state')];
  const cli = (args: string[]) => run(BIN.bridge, [...storage, ...args]);
  await cli(['repo', 'create', repo]);
  const { host: _host, ...agentLike } = agentConfig(site, 'bridge') as Record<string, unknown>;
  const configPath = join(dir, 'bridge.yaml');
  await writeFile(
    configPath,
    JSON.stringify({
      storageDir: join(dir, 'public'),
      stateDir: join(dir, 'state'),
      approved: {
        enabled: true,
        site: site.name,
        layoutUrl: site.server.url,
        onRevoke: 'remove',
        repositories: [repo],
        trust: agentLike.trust,
        poll: agentLike.poll,
        transfer: agentLike.transfer,
      },
    }),
  );
  const proc = startProcess(BIN.bridge, ['--config', configPath, 'run'], join(dir, 'bridge.log'));
  const readable = async (path: string) => {
    try {
      await cli(['repo', 'cat', repo, path]);
      return true;
    } catch {
      return false;
    }
  };
  const until = async (what: string, timeoutMs: number, test: () => Promise<boolean>) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await test())) {
      if (proc.exitCode !== null)
        throw new Error(`tsw-bridge run exited with ${proc.exitCode} (see ${dir}/bridge.log)`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} in ${repo}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  return {
    cli,
    waitFor: (path, timeoutMs) => until(path, timeoutMs, () => readable(path)),
    waitForGone: (path, timeoutMs) =>
      until(`${path} removed`, timeoutMs, async () => !(await readable(path))),
    stop: () => stopProcess(proc),
  };
}
