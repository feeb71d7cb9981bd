// The replaced piece receive path is installed only on the webtorrent version it was copied
// from: on the installed webtorrent it is, on a torrent whose `_request` differs it is not
// (webtorrent's own path stays). The piece buffer pool hands back only whole buffers.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebTorrent, { type Torrent } from 'webtorrent';
import { HashWorker } from '../src/transfer/hash-worker.js';
import { offloadPieceHashing, PieceBufferPool } from '../src/transfer/piece-verify.js';

let dir: string;
let client: WebTorrent;
let hashing: HashWorker;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-pv-'));
  hashing = new HashWorker();
  client = new WebTorrent({
    torrentPort: 0,
    dht: false,
    tracker: false,
    lsd: false,
    utPex: false,
    natUpnp: false,
    natPmp: false,
  });
});

afterAll(async () => {
  await new Promise<void>((resolve) => client.destroy(() => resolve()));
  await hashing.terminate();
  await rm(dir, { recursive: true, force: true });
});

describe('offloadPieceHashing', () => {
  it('replaces _request on the webtorrent version it was copied from, and only there', () => {
    const torrent: Torrent = client.add(`magnet:?xt=urn:btih:${'ab'.repeat(20)}`, { path: dir });
    const pool = new PieceBufferPool(2);
    expect(offloadPieceHashing(torrent, hashing, pool, { maxPendingWrites: 2 })).toBe(true);
    expect(Object.hasOwn(torrent, '_request')).toBe(true);

    const other = Object.create({ _request: () => false, _updateWire: () => {} }) as Torrent;
    expect(offloadPieceHashing(other, hashing, pool, { maxPendingWrites: 2 })).toBe(false);
    expect(Object.hasOwn(other, '_request')).toBe(false);
  });
});

describe('PieceBufferPool', () => {
  it('reuses whole buffers up to its size and never keeps views', () => {
    const pool = new PieceBufferPool(1);
    const a = pool.take(1024);
    const b = pool.take(1024);
    pool.give(a);
    pool.give(b); // over the limit: dropped
    pool.give(new Uint8Array(new ArrayBuffer(2048), 0, 1024)); // a view: dropped
    expect(pool.take(1024)).toBe(a);
    expect(pool.take(1024)).not.toBe(b);
    expect(pool.take(512).byteLength).toBe(512);
  });
});
