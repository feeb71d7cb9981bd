// Resumable upload, the origin (Range, ETag, limits), torrents and the embedded tracker over a real port.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultTransferConfig, TransferEngine } from '@trustswarm/fetch';
import createTorrent from 'create-torrent';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/server.js';
import { insertEntries, insertVersion, upsertCatalog } from '../src/storage/catalog-repo.js';
import { bearer, errorCode, openTestServices, type TestServices, userWithToken } from './helpers.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function makeTorrent(content: Buffer, announceUrl = 'http://127.0.0.1:1/announce'): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    createTorrent(
      Object.assign(content, { name: 'artifact.img' }),
      { announceList: [[announceUrl]], pieceLength: 16384, createdBy: 'test' },
      (err: Error | null, torrent: Uint8Array) => (err ? reject(err) : resolve(Buffer.from(torrent))),
    ),
  );
}

function infoHashOf(torrent: Buffer): Promise<string> {
  return import('parse-torrent').then(async (m) => (await m.default(torrent)).infoHash);
}

/** Raw HTTP announce: info_hash is 20 binary bytes, percent-encoded. */
async function announce(base: string, infoHashHex: string): Promise<string> {
  const pct = (hex: string) => hex.replace(/../g, (b) => `%${b}`);
  const peerId = randomBytes(20).toString('hex');
  const url = `${base}/announce?info_hash=${pct(infoHashHex)}&peer_id=${pct(peerId)}&port=6881&uploaded=0&downloaded=0&left=0&compact=1&event=started`;
  return Buffer.from(await (await fetch(url)).arrayBuffer()).toString('latin1');
}

describe('origin, uploads, torrents and tracker', () => {
  let t: TestServices;
  let server: RunningServer;
  let endorser: string;
  let reader: string;
  const content = randomBytes(200_000);
  const digest = sha256(content);

  beforeEach(async () => {
    t = await openTestServices('sqlite', {
      origin: { maxConcurrentPerClient: 1 },
      seeder: { scanIntervalSeconds: 3600 },
    });
    server = await startServer(t.config, { db: t.db });
    endorser = await userWithToken(server.services, 'ed', [{ role: 'endorser' }], {
      endorserIdentity: 'aa|bb',
    });
    reader = await userWithToken(server.services, 'rd', [{ role: 'reader' }]);
  });
  afterEach(async () => {
    await server.app.close();
    await t.cleanup();
  });

  const patch = (body: Uint8Array, offset: number, token = endorser, hash = digest) =>
    fetch(`${server.url}/api/v1/uploads/${hash}`, {
      method: 'PATCH',
      headers: {
        ...bearer(token),
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(offset),
        'upload-length': String(content.length),
      },
      body,
    });

  async function uploadWhole(): Promise<void> {
    expect((await patch(content.subarray(0, 50_000), 0)).status).toBe(204);
    expect((await patch(content.subarray(50_000), 50_000)).headers.get('upload-complete')).toBe('?1');
  }

  /** A catalog entry for the artifact, written straight into storage (publishing has its own tests). */
  async function catalogue(infoHash: string): Promise<void> {
    await upsertCatalog(t.db, { id: 'c1', name: 'n', createdAt: 1, latestVersion: 1 });
    await insertVersion(t.db, {
      catalogId: 'c1',
      version: 1,
      sha256: 'x',
      bytes: Buffer.from('x'),
      issued: 'i',
      expires: 'e',
      uploadedBy: 'u',
      uploadedAt: 1,
    });
    await insertEntries(t.db, [
      {
        catalogId: 'c1',
        version: 1,
        entryId: 'e1',
        kind: 'vm-image',
        name: 'n',
        sha256: digest,
        infoHash,
        voTags: [],
      },
    ]);
  }

  it('resumes an upload from the server offset and refuses a wrong offset', async () => {
    const first = await patch(content.subarray(0, 70_000), 0);
    expect(first.status).toBe(204);
    expect(first.headers.get('upload-offset')).toBe('70000');
    const head = await fetch(`${server.url}/api/v1/uploads/${digest}`, {
      method: 'HEAD',
      headers: bearer(endorser),
    });
    expect(head.headers.get('upload-offset')).toBe('70000');
    const wrong = await patch(content.subarray(10_000), 10_000);
    expect(wrong.status).toBe(409);
    const rest = await patch(content.subarray(70_000), 70_000);
    expect(rest.status).toBe(204);
    expect(rest.headers.get('upload-complete')).toBe('?1');
    const done = await fetch(`${server.url}/api/v1/uploads/${digest}`, {
      method: 'HEAD',
      headers: bearer(endorser),
    });
    expect(done.headers.get('upload-complete')).toBe('?1');
  });

  it('deletes the staging file when the digest does not match', async () => {
    const wrongHash = sha256(Buffer.from('something else'));
    const response = await patch(content, 0, endorser, wrongHash);
    expect(response.status).toBe(422);
    expect(await errorCode(response)).toBe('DIGEST_MISMATCH');
    expect(await server.services.blobs.staging.size(wrongHash)).toBe(0);
    expect((await fetch(`${server.url}/artifacts/${wrongHash}`)).status).toBe(404);
  });

  it('refuses uploads from a reader', async () => {
    expect((await patch(content, 0, reader)).status).toBe(403);
  });

  it('serves artifacts with Range, ETag and 416', async () => {
    await uploadWhole();
    const whole = await fetch(`${server.url}/artifacts/${digest}`);
    expect(whole.status).toBe(200);
    expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(digest);
    const etag = whole.headers.get('etag');
    expect(etag).toBe(`"${digest}"`);
    const part = await fetch(`${server.url}/artifacts/${digest}`, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${content.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(content.subarray(100, 200))).toBe(true);
    const suffix = await fetch(`${server.url}/artifacts/${digest}`, { headers: { range: 'bytes=-10' } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(content.subarray(content.length - 10))).toBe(true);
    const open = await fetch(`${server.url}/artifacts/${digest}`, { headers: { range: 'bytes=199990-' } });
    expect(Number(open.headers.get('content-length'))).toBe(10);
    await open.arrayBuffer();
    const bad = await fetch(`${server.url}/artifacts/${digest}`, {
      headers: { range: `bytes=${content.length}-` },
    });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${content.length}`);
    const cached = await fetch(`${server.url}/artifacts/${digest}`, {
      headers: { 'if-none-match': etag ?? '' },
    });
    expect(cached.status).toBe(304);
  });

  it('limits concurrent downloads and byte rate per client, and frees the slot afterwards', async () => {
    await uploadWhole();
    const limited = await startServer(
      {
        ...t.config,
        origin: { maxConcurrentPerClient: 1, maxConcurrentTotal: 10, clientRateBytesPerSecond: 200_000 },
      },
      { db: t.db },
    );
    try {
      const startedAt = Date.now();
      const first = await fetch(`${limited.url}/artifacts/${digest}`);
      expect(first.status).toBe(200);
      const second = await fetch(`${limited.url}/artifacts/${digest}`);
      expect(second.status).toBe(429);
      expect(await errorCode(second)).toBe('TOO_MANY_DOWNLOADS');
      expect(sha256(Buffer.from(await first.arrayBuffer()))).toBe(digest);
      // 200 kB at 200 kB/s: the throttle must have spread the body over most of a second
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(700);
      const third = await fetch(`${limited.url}/artifacts/${digest}`, { headers: { range: 'bytes=0-9' } });
      expect(third.status).toBe(206);
      await third.arrayBuffer();
    } finally {
      await limited.app.close();
    }
  });

  it('stores a torrent only when its bytes match the info hash, and serves it', async () => {
    const torrent = await makeTorrent(content);
    const infoHash = await infoHashOf(torrent);
    const put = (hash: string) =>
      fetch(`${server.url}/api/v1/torrents/${hash}`, {
        method: 'PUT',
        headers: { ...bearer(endorser), 'content-type': 'application/x-bittorrent' },
        body: torrent,
      });
    const mismatch = await put('0'.repeat(40));
    expect(mismatch.status).toBe(422);
    expect(await errorCode(mismatch)).toBe('INFO_HASH_MISMATCH');
    expect((await put(infoHash)).status).toBe(201);
    expect((await put(infoHash)).status).toBe(200);
    const served = await fetch(`${server.url}/torrents/${infoHash}.torrent`);
    expect(Buffer.from(await served.arrayBuffer()).equals(torrent)).toBe(true);
    expect(served.headers.get('etag')).toBe(`"${sha256(torrent)}"`);
  });

  it('tracks a catalogued info hash and refuses another', async () => {
    const infoHash = await infoHashOf(await makeTorrent(content));
    const other = randomBytes(20).toString('hex');
    await catalogue(infoHash);
    const accepted = await announce(server.url, infoHash);
    expect(accepted).toContain('8:interval');
    expect(accepted).not.toContain('failure reason');
    const refused = await announce(server.url, other);
    expect(refused).toContain('failure reason');
    expect(refused).toContain('not in any catalog');
    const stats = await fetch(`${server.url}/api/v1/swarms/${infoHash}`, { headers: bearer(reader) });
    expect((await stats.json()) as Record<string, unknown>).toMatchObject({
      catalogued: true,
      seeders: 1,
      leechers: 0,
      peers: 1,
    });
    const perArtifact = await fetch(`${server.url}/api/v1/artifacts/${digest}`, { headers: bearer(reader) });
    expect((await perArtifact.json()) as Record<string, unknown>).toMatchObject({
      sha256: digest,
      entries: [{ catalogId: 'c1', version: 1, entryId: 'e1' }],
      swarms: [{ infoHash, seeders: 1, leechers: 0, peers: 1 }],
    });
    const scrape = await fetch(`${server.url}/scrape?info_hash=${infoHash.replace(/../g, (b) => `%${b}`)}`);
    expect(Buffer.from(await scrape.arrayBuffer()).toString('latin1')).toContain('8:completei1e');
  });

  it('seeds a stored artifact over BitTorrent: a peer gets it with no web seed', async () => {
    await uploadWhole();
    const torrent = await makeTorrent(content, `${server.url}/announce`);
    const infoHash = await infoHashOf(torrent);
    await catalogue(infoHash);
    const put = await fetch(`${server.url}/api/v1/torrents/${infoHash}`, {
      method: 'PUT',
      headers: { ...bearer(endorser), 'content-type': 'application/x-bittorrent' },
      body: torrent,
    });
    expect(put.status).toBe(201);
    if (!server.seeder) throw new Error('the origin seeder should run with fs blobs');
    // Seeding starts when the torrent is stored, not at the next scan (an hour away here).
    expect(t.config.seeder.scanIntervalSeconds).toBeGreaterThanOrEqual(3600);
    const seeder = server.seeder;
    for (let i = 0; i < 50 && seeder.status().seeding.length === 0; i++) await sleep(100);
    expect(seeder.status().seeding).toEqual([infoHash]);
    // The tracker knows the origin but does not count it as an agent that has the artifact.
    let swarm: Record<string, unknown> = {};
    for (let i = 0; i < 50 && swarm.originSeeding !== true; i++) {
      const res = await fetch(`${server.url}/api/v1/swarms/${infoHash}`, { headers: bearer(reader) });
      swarm = (await res.json()) as Record<string, unknown>;
      if (swarm.originSeeding !== true) await sleep(100);
    }
    expect(swarm).toMatchObject({ originSeeding: true, seeders: 0, leechers: 0, peers: 0 });

    const leecher = await TransferEngine.start({
      ...defaultTransferConfig,
      torrentPort: 0,
      listenAddress: '127.0.0.1',
      dht: { ...defaultTransferConfig.dht, enabled: false },
      webSeed: { ...defaultTransferConfig.webSeed, enabled: false },
    });
    try {
      const result = await leecher.download({
        torrentFile: torrent,
        expectedInfoHash: infoHash,
        stagingDir: join(t.dir, 'leecher'),
      });
      expect(sha256(await readFile(result.dataPath))).toBe(digest);
      expect(result.receivedBytes).toBeGreaterThanOrEqual(content.length);
    } finally {
      await leecher.destroy();
    }
  });
});
