// The replaced piece receive path is installed only on the webtorrent version it was copied
// from: on the installed webtorrent it is, on a torrent whose `_request` differs it is not
// (webtorrent's own path stays); in a bundle, only on the version the bundler fingerprinted.
// BlockFile writes blocks at their offsets without ever truncating what is there (resume), in
// 16 KiB writes whatever the chunk length.

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
});
