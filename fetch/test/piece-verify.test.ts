// The replaced piece receive path is installed only on the webtorrent version it was copied
// from: on the installed webtorrent it is, on a torrent whose `_request` differs it is not
// (webtorrent's own path stays); in a bundle, only on the version the bundler fingerprinted.
// BlockFile writes blocks at their offsets without ever truncating what is there (resume), in
// 16 KiB writes whatever the chunk length. Staged blocks are written only by a flush (or
// by anything that needs the file as received: read); consecutive ones together, up to the
// gather limit; a block elsewhere writes the run before it; close drops what is staged.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebTorrent from 'webtorrent';
import type { Torrent } from 'webtorrent';
import { BlockFile, isKnownRequest, writeBlocksToFile } from '../src/transfer/piece-verify.js';
import { bareClient } from './helpers/bare-client.js';

let dir: string;
let client: WebTorrent;
const checker = { sha1Piece: async () => '' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsw-pv-'));
  client = bareClient();
});

afterAll(async () => {
  await new Promise<void>((resolve) => client.destroy(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('writeBlocksToFile', () => {
  it('replaces _request on the webtorrent version it was copied from, and only there', () => {
    const torrent: Torrent = client.add(`magnet:?xt=urn:btih:${'ab'.repeat(20)}`, { path: dir });
    expect(writeBlocksToFile(torrent, new BlockFile(join(dir, 'a')), checker)).toBe(true);
    expect(Object.hasOwn(torrent, '_request')).toBe(true);

    const other = Object.create({ _request: () => false, once: () => {} }) as Torrent;
    expect(writeBlocksToFile(other, new BlockFile(join(dir, 'b')), checker)).toBe(false);
    expect(Object.hasOwn(other, '_request')).toBe(false);
  });

  it('in a bundle (reprinted source), accepts only the webtorrent version the bundler fingerprinted', () => {
    const reprinted = () => false;
    expect(isKnownRequest(reprinted, '3.0.21', undefined)).toBe(false); // not a bundle
    expect(isKnownRequest(reprinted, '3.0.21', '3.0.21')).toBe(true);
    expect(isKnownRequest(reprinted, '3.0.22', '3.0.21')).toBe(false);
    expect(isKnownRequest(reprinted, undefined, '3.0.21')).toBe(false);
  });
});

describe('BlockFile', () => {
  it('writes blocks at their offsets into a new or existing file, never truncating it', async () => {
    const path = join(dir, 'sub', 'staged.img');
    const file = new BlockFile(path);
    const block = (fill: number, length = 1 << 14) => new Uint8Array(length).fill(fill);
    file.write(block(2), 1 << 14);
    file.write(block(1), 0);
    file.close();
    expect((await readFile(path)).equals(Buffer.concat([block(1), block(2)]))).toBe(true);

    // Reopened (resume): what is there stays; a multi-block chunk lands whole.
    await writeFile(path, Buffer.concat([block(7, 3 << 14)]));
    const again = new BlockFile(path);
    again.write(block(9, (1 << 14) + 5), 1 << 14);
    const expected = Buffer.concat([block(7), block(9, (1 << 14) + 5), block(7, (1 << 14) - 5)]);
    expect(Buffer.from(again.read(0, 3 << 14)).equals(expected)).toBe(true);
    again.close();
  });

  it('writes staged blocks only when flushed, consecutive ones in one go, up to the gather limit', async () => {
    const path = join(dir, 'gathered.img');
    const block = (fill: number) => new Uint8Array(1 << 14).fill(fill);
    const file = new BlockFile(path, 2 << 14); // gather at most 2 blocks
    file.prepare();
    file.stage(block(1), 0);
    file.stage(block(2), 1 << 14);
    expect(file.staged).toBe(true);
    expect((await readFile(path)).length).toBe(0); // nothing written yet
    file.stage(block(3), 2 << 14); // beyond the limit: the first two are written
    expect((await readFile(path)).equals(Buffer.concat([block(1), block(2)]))).toBe(true);
    file.stage(block(5), 4 << 14); // not adjacent: block 3 is written
    expect((await readFile(path)).length).toBe(3 << 14);
    file.flush();
    expect(file.staged).toBe(false);
    const expected = Buffer.concat([block(1), block(2), block(3), new Uint8Array(1 << 14), block(5)]);
    expect((await readFile(path)).equals(expected)).toBe(true);

    file.stage(block(8), 3 << 14);
    expect(Buffer.from(file.read(3 << 14, 1 << 14)).equals(block(8))).toBe(true); // read flushes first
    file.stage(block(9), 5 << 14);
    file.close(); // dropped: unverified
    expect((await readFile(path)).length).toBe(5 << 14);
  });
});
