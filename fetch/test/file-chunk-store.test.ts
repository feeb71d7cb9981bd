// The engine's chunk store (file-chunk-store.ts): webtorrent's interface on one file, blocks
// for uploads served as views of a cached piece, and fs-chunk-store's behaviour where the
// engine relies on it (nothing truncated, short reads are errors, a missing file is created
// rather than failing for good, a read-only image is still served).

import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileChunkStore, isLentView, returnView } from '../src/transfer/file-chunk-store.js';

const PIECE = 64 * 1024;
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-fcs-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A store over a new file name; `content` written first if given. */
async function storeOver(length: number, content?: Uint8Array, cacheSlots = 2, windowBytes = PIECE) {
  const name = `f${n++}.img`;
  if (content) await writeFile(join(dir, name), content);
  const files = [{ path: name, length }];
  const store = new FileChunkStore(PIECE, { path: dir, files, length, cacheSlots, windowBytes });
  return { store, path: join(dir, name) };
}

function get(store: FileChunkStore, index: number, opts: { offset?: number; length?: number } | null = null) {
  return new Promise<Uint8Array>((resolve, reject) =>
    store.get(index, opts, (err, buf) => (err || !buf ? reject(err ?? new Error('no data')) : resolve(buf))),
  );
}

function put(store: FileChunkStore, index: number, data: Uint8Array) {
  return new Promise<void>((resolve, reject) =>
    store.put(index, data, (err) => (err ? reject(err) : resolve())),
  );
}

function closeStore(store: FileChunkStore) {
  return new Promise<void>((resolve, reject) => store.close((err) => (err ? reject(err) : resolve())));
}

/** Overwrites bytes of the file behind the store's back (another writer, e.g. BlockFile). */
async function overwrite(path: string, position: number, data: Uint8Array) {
  const handle = await open(path, 'r+');
  await handle.write(data, 0, data.length, position);
  await handle.close();
}

describe('FileChunkStore', () => {
  it('puts and gets whole pieces and ranges, the last piece short', async () => {
    const length = 2 * PIECE + 1000;
    const data = randomBytes(length);
    const { store, path } = await storeOver(length);
    await put(store, 2, data.subarray(2 * PIECE));
    await put(store, 0, data.subarray(0, PIECE));
    await put(store, 1, data.subarray(PIECE, 2 * PIECE));
    expect(Buffer.from(await get(store, 1)).equals(data.subarray(PIECE, 2 * PIECE))).toBe(true);
    expect(Buffer.from(await get(store, 2)).equals(data.subarray(2 * PIECE))).toBe(true);
    const block = await get(store, 0, { offset: 16384, length: 16384 });
    expect(Buffer.from(block).equals(data.subarray(16384, 32768))).toBe(true);
    const tail = await get(store, 2, { offset: 500, length: 500 });
    expect(Buffer.from(tail).equals(data.subarray(2 * PIECE + 500))).toBe(true);
    await closeStore(store);
    expect((await readFile(path)).equals(data)).toBe(true);
  });

  it('serves blocks as views of one cached piece read, and never caches whole-piece gets', async () => {
    const data = randomBytes(3 * PIECE);
    const { store, path } = await storeOver(data.length, data, 2);
    const a = await get(store, 0, { offset: 0, length: 16384 });
    const b = await get(store, 0, { offset: 16384, length: 16384 });
    expect(a.buffer).toBe(b.buffer); // one piece buffer, no copies
    expect(a.byteLength).toBe(16384);
    expect(Buffer.from(b).equals(data.subarray(16384, 32768))).toBe(true);

    // A whole-piece get (webtorrent's check of existing data) reads the file and is not kept:
    // the piece may still be incomplete and be written later.
    const whole = await get(store, 1);
    await overwrite(path, PIECE, Buffer.alloc(16384, 7));
    expect(whole.buffer).not.toBe((await get(store, 1, { offset: 0, length: 16384 })).buffer);
    expect(
      Buffer.from(await get(store, 1, { offset: 0, length: 16384 })).equals(Buffer.alloc(16384, 7)),
    ).toBe(true);

    // Cached pieces are served as read (verified pieces never change on disk) …
    await overwrite(path, 0, Buffer.alloc(16384, 9));
    expect(
      Buffer.from(await get(store, 0, { offset: 0, length: 16384 })).equals(data.subarray(0, 16384)),
    ).toBe(true);
    // … a put drops the piece from the cache …
    const fresh = randomBytes(PIECE);
    await put(store, 0, fresh);
    expect(Buffer.from(await get(store, 0, { offset: 0, length: 100 })).equals(fresh.subarray(0, 100))).toBe(
      true,
    );
    // … and at most `cacheSlots` pieces are kept (least recently used goes first).
    await get(store, 2, { offset: 0, length: 10 }); // cache: 0, 2 (piece 1 evicted)
    await overwrite(path, PIECE, Buffer.alloc(10, 5));
    expect(Buffer.from(await get(store, 1, { offset: 0, length: 10 })).equals(Buffer.alloc(10, 5))).toBe(
      true,
    );
    await closeStore(store);
  });

  it('reads and caches a piece in windows; a put drops every window of the piece', async () => {
    const data = randomBytes(2 * PIECE);
    const { store } = await storeOver(data.length, data, 8, 32768);
    const blocks = await Promise.all(
      [0, 1, 2, 3].map((i) => get(store, 1, { offset: i * 16384, length: 16384 })),
    );
    expect(blocks[0]?.buffer).toBe(blocks[1]?.buffer); // window 0 of piece 1
    expect(blocks[2]?.buffer).toBe(blocks[3]?.buffer); // window 1
    expect(blocks[0]?.buffer).not.toBe(blocks[2]?.buffer);
    expect(blocks[0]?.buffer.byteLength).toBe(32768);
    for (const [i, block] of blocks.entries()) {
      expect(Buffer.from(block).equals(data.subarray(PIECE + i * 16384, PIECE + (i + 1) * 16384))).toBe(true);
    }
    // a block that straddles two windows is read on its own
    const straddling = await get(store, 1, { offset: 30000, length: 5000 });
    expect(Buffer.from(straddling).equals(data.subarray(PIECE + 30000, PIECE + 35000))).toBe(true);
    const fresh = randomBytes(PIECE);
    await put(store, 1, fresh);
    expect(
      Buffer.from(await get(store, 1, { offset: 40000, length: 10 })).equals(fresh.subarray(40000, 40010)),
    ).toBe(true);
    expect(Buffer.from(await get(store, 1, { offset: 0, length: 10 })).equals(fresh.subarray(0, 10))).toBe(
      true,
    );
    await closeStore(store);
  });

  it('reuses a piece buffer only once it left the cache and every view of it was given back', async () => {
    const length = 5 * PIECE;
    const data = randomBytes(length);
    const { store } = await storeOver(length, data, 1);
    const block = { offset: 0, length: 16 * 1024 };
    const expectBlock = (view: Uint8Array, index: number) =>
      expect(Buffer.from(view).equals(data.subarray(index * PIECE, index * PIECE + 16 * 1024))).toBe(true);
    const v0 = await get(store, 0, block); // kept: still in a socket's queue
    expect(isLentView(v0)).toBe(true);
    const v1 = await get(store, 1, block); // evicts piece 0, whose view is still out
    returnView(v1);
    returnView(v1); // a second give-back of the same view counts nothing
    const v2 = await get(store, 2, block); // evicts piece 1: its buffer becomes spare
    const v3 = await get(store, 3, block); // read into piece 1's buffer
    expect(v3.buffer).toBe(v1.buffer);
    expect(v0.buffer).not.toBe(v2.buffer);
    expect(v0.buffer).not.toBe(v3.buffer);
    expect(store.buffersAllocated).toBe(3);
    expectBlock(v0, 0); // never overwritten while it was out
    expectBlock(v2, 2);
    expectBlock(v3, 3);
    // whole-piece gets are not lent (never cached), and other buffers are ignored
    expect(isLentView(await get(store, 4))).toBe(false);
    returnView(new Uint8Array(8));
    await closeStore(store);
  });

  it('shares one read between concurrent gets of the same piece', async () => {
    const data = randomBytes(PIECE);
    const { store } = await storeOver(data.length, data, 1);
    const blocks = await Promise.all(
      [0, 1, 2, 3].map((i) => get(store, 0, { offset: i * 16384, length: 16384 })),
    );
    for (const [i, block] of blocks.entries()) {
      expect(block.buffer).toBe(blocks[0]?.buffer);
      expect(Buffer.from(block).equals(data.subarray(i * 16384, (i + 1) * 16384))).toBe(true);
    }
    await closeStore(store);
  });

  it('never truncates an existing file (resume) and creates a missing one on first use', async () => {
    const data = randomBytes(2 * PIECE);
    const { store, path } = await storeOver(data.length, data);
    await put(store, 1, data.subarray(PIECE)); // same bytes: the file keeps its length and piece 0
    await closeStore(store);
    expect((await readFile(path)).equals(data)).toBe(true);

    // webtorrent's first operation on a new download is a read of a file that does not exist
    // yet: an error for that read (short), not a store that stays unusable.
    const missing = await storeOver(PIECE);
    await expect(get(missing.store, 0)).rejects.toThrow(/short read/);
    await put(missing.store, 0, data.subarray(0, PIECE));
    expect(
      Buffer.from(await get(missing.store, 0, { offset: 0, length: 8 })).equals(data.subarray(0, 8)),
    ).toBe(true);
    await closeStore(missing.store);
  });

  it('reports short reads, bad ranges, wrong piece sizes and a closed store as errors', async () => {
    const { store } = await storeOver(2 * PIECE, randomBytes(PIECE + 100)); // file shorter than the torrent
    await expect(get(store, 1)).rejects.toThrow(/short read, 100 of 65536 bytes/);
    await expect(get(store, 1, { offset: 0, length: 16384 })).rejects.toThrow(/short read/);
    // a block of a short piece too: the whole piece is read for the cache
    await expect(get(store, 1, { offset: 0, length: 100 })).rejects.toThrow(/short read/);
    await expect(get(store, 0, { offset: PIECE - 10, length: 11 })).rejects.toThrow(/invalid range/);
    await expect(get(store, 2)).rejects.toThrow(/invalid range/);
    await expect(put(store, 0, new Uint8Array(10))).rejects.toThrow(/must be 65536 bytes/);
    await closeStore(store);
    await expect(get(store, 0)).rejects.toThrow(/closed/);
    await expect(put(store, 0, new Uint8Array(PIECE))).rejects.toThrow(/closed/);
  });

  it('serves a read-only file and removes the file on destroy', async () => {
    const data = randomBytes(PIECE);
    const { store, path } = await storeOver(data.length, data);
    await chmod(path, 0o444);
    // (root opens it read-write anyway; another user gets the read-only fallback)
    expect(Buffer.from(await get(store, 0, { offset: 10, length: 10 })).equals(data.subarray(10, 20))).toBe(
      true,
    );
    await new Promise<void>((resolve, reject) => store.destroy((err) => (err ? reject(err) : resolve())));
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });

  it('closes the file only after the reads under way (a reused fd number must not serve another file)', async () => {
    const data = randomBytes(2 * PIECE);
    const { store } = await storeOver(data.length, data);
    await get(store, 0, { offset: 0, length: 10 }); // the file is open
    const reading = get(store, 1);
    const closing = closeStore(store);
    expect(Buffer.from(await reading).equals(data.subarray(PIECE))).toBe(true);
    await closing;
  });

  it('refuses more or less than one file', () => {
    expect(() => new FileChunkStore(PIECE, { files: [] })).toThrow(/exactly one file/);
    expect(
      () =>
        new FileChunkStore(PIECE, {
          files: [
            { path: 'a', length: 1 },
            { path: 'b', length: 1 },
          ],
        }),
    ).toThrow(/exactly one file/);
  });
});
