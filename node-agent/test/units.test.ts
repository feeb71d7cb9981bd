// Small pure parts: the config schema (file, TSW_AGENT_* env, --set, defaults, errors), host
// selection, and the layout client's limits (size, timeout, If-None-Match, pinned hash).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HostProfile, isForHost, LayoutClient, sha256Hex } from '@trustswarm/fetch';
import type { CatalogEntry } from '@trustswarm/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

let dir: string;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-units-'));
  server = createServer((req, res) => {
    if (req.url === '/big') return res.end(Buffer.alloc(2048));
    if (req.url === '/slow') return setTimeout(() => res.end('late'), 3000);
    if (req.url === '/etag') {
      if (req.headers['if-none-match'] === '"v1"') return res.writeHead(304).end();
      return res.writeHead(200, { etag: '"v1"' }).end('doc');
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  baseUrl = `http://127.0.0.1:${address.port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe('config', () => {
  it('fills every default and layers file < TSW_AGENT_* env < --set', async () => {
    const file = join(dir, 'agent.yaml');
    await writeFile(file, 'site: S1\nlayoutUrl: http://127.0.0.1:1/\ntransfer: {uploadSlots: 3}\n');
    const config = loadConfig({
      file,
      env: {
        TSW_AGENT_TRANSFER_UPLOAD_SLOTS: '4',
        TSW_AGENT_TRANSFER_MAX_CONNS_PER_TORRENT: '9',
        TSW_AGENT_HOST_VO_TAGS: 'cms, atlas',
        // other programs' settings in the same environment are not the agent's business
        TSW_CATALOG_SERVER_PORT: '1',
        TSW_SERVER_TOKEN: 'x',
        HOME: '/root',
      },
      sets: ['transfer.uploadSlots=2'],
    });
    expect(config.transfer.uploadSlots).toBe(2);
    expect(config.host.voTags).toEqual(['cms', 'atlas']);
    expect(config.transfer.maxConnsPerTorrent).toBe(9);
    expect(config.api.listen).toBe('127.0.0.1:9731');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads required keys from the environment and refuses a misspelt TSW_AGENT_* name', () => {
    const env = { TSW_AGENT_SITE: 'S1', TSW_AGENT_LAYOUT_URL: 'http://127.0.0.1:1/' };
    expect(loadConfig({ env }).site).toBe('S1');
    expect(() => loadConfig({ env: { ...env, TSW_AGENT_TRANSFER_UPLOAD_SLOTZ: '4' } })).toThrow(
      /^TSW_AGENT_TRANSFER_UPLOAD_SLOTZ: no such setting/,
    );
    expect(() => loadConfig({ env: { ...env, TSW_AGENT_TRANSFER_UPLOAD_SLOTS: 'many' } })).toThrow(
      /^TSW_AGENT_TRANSFER_UPLOAD_SLOTS: expected a number/,
    );
  });

  it('loads the shipped example configuration as it is', () => {
    const example = join(import.meta.dirname, '..', 'dist-files', 'agent.example.yaml');
    const config = loadConfig({ file: example, env: {} });
    expect(config.site).toBe('CERN-LXCLOUD');
    expect(config.transfer.listenAddress).toBe('');
  });

  it('names the bad key in one line', () => {
    expect(() => loadConfig({ sets: ['site=S', 'layoutUrl=http://x/', 'transfer.uploadSlots=0'] })).toThrow(
      /^config transfer\.uploadSlots: /,
    );
    expect(() => loadConfig({ sets: ['site=S', 'layoutUrl=http://x/', 'transfer.typo=1'] })).toThrow(
      /transfer/,
    );
    expect(() => loadConfig({ sets: ['site=S'] })).toThrow(/^config layoutUrl: /);
    expect(() =>
      loadConfig({ sets: ['site=S', 'layoutUrl=http://x/', 'transfer.dht.bootstrap=["node1:0"]'] }),
    ).toThrow(/^config transfer\.dht\.bootstrap\.0: expected host:port$/);
    const ok = loadConfig({
      sets: ['site=S', 'layoutUrl=http://x/', 'transfer.dht.bootstrap=["dht1.site:6881"]'],
    });
    expect(ok.transfer.dht.bootstrap).toEqual(['dht1.site:6881']);
  });
});

describe('selection', () => {
  const host: HostProfile = {
    name: 'hv1',
    cluster: 'c1',
    subcluster: 'kvm',
    voTags: ['cms'],
    kinds: ['vm-image'],
  };
  const entry = (
    over: Partial<CatalogEntry>,
  ): { catalogId: string; catalogVersion: number; entry: CatalogEntry } => ({
    catalogId: 'c',
    catalogVersion: 1,
    entry: {
      id: 'e',
      kind: 'vm-image',
      name: 'n',
      version: '1',
      artifact: {
        size: 1,
        sha256: 'a'.repeat(64),
        infoHash: 'b'.repeat(40),
        torrent: { sha256: 'c'.repeat(64) },
      },
      ...over,
    },
  });

  it('matches on kind, cluster, subcluster, host list and VO tags', () => {
    expect(isForHost(entry({}), host)).toBe(true);
    expect(
      isForHost(entry({ distribution: { cluster: 'c1', subcluster: 'kvm', hosts: ['hv1'] } }), host),
    ).toBe(true);
    expect(isForHost(entry({ kind: 'repo-snapshot' }), host)).toBe(false);
    expect(isForHost(entry({ distribution: { cluster: 'c2' } }), host)).toBe(false);
    expect(isForHost(entry({ distribution: { subcluster: 'xen' } }), host)).toBe(false);
    expect(isForHost(entry({ distribution: { hosts: ['hv2'] } }), host)).toBe(false);
    expect(isForHost(entry({ voTags: ['atlas'] }), host)).toBe(false);
    expect(isForHost(entry({ voTags: ['atlas', 'cms'] }), host)).toBe(true);
  });
});

describe('layout client', () => {
  const client = () =>
    new LayoutClient({
      baseUrl,
      timeoutSeconds: 1,
      maxApprovalBytes: 1024,
      maxCatalogBytes: 1024,
      maxSignatureBytes: 1024,
      maxTorrentBytes: 1024,
    });

  it('refuses a body over the limit, a slow server and a wrong pinned hash', async () => {
    await expect(client().getBytes('big', 1024)).rejects.toMatchObject({ code: 'FETCH_TOO_LARGE' });
    await expect(client().getBytes('slow', 1024)).rejects.toMatchObject({ code: 'FETCH_TIMEOUT' });
    await expect(client().getBytes('missing', 1024)).rejects.toMatchObject({ code: 'FETCH_FAILED' });
    await expect(client().getPinned('etag', 1024, sha256Hex(Buffer.from('other')))).rejects.toMatchObject({
      code: 'HASH_MISMATCH',
    });
    expect((await client().getPinned('etag', 1024, sha256Hex(Buffer.from('doc')))).toString()).toBe('doc');
  });

  it('sends If-None-Match and reports 304 as not modified', async () => {
    const first = await client().get('etag', 1024);
    expect(first).toMatchObject({ status: 'ok', etag: '"v1"' });
    expect(await client().get('etag', 1024, '"v1"')).toEqual({ status: 'not-modified' });
  });
});
