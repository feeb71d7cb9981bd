// socket-input.ts between two real webtorrent clients on 127.0.0.1: without a download limit
// the leecher's socket reads go straight to the wire parser; with a limit they go through
// webtorrent's throttle again and the limit holds; switching the limit on and off many times
// during a download keeps the bytes in order (the file is byte-exact); encrypted connections
// keep going the stream way. And, with the pipes held by hand, a read never overtakes chunks
// still in them. Each connection is read into one buffer of its own (`readBufferBytes`): on a
// real TCP socket every read lands in that buffer, in order, with no `data` event; a download
// through a buffer smaller than a block is byte-exact, and no direct read is larger.

import { EventEmitter, once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebTorrent from 'webtorrent';
import type { Torrent, Wire } from 'webtorrent';
import {
  defaultSocketInput,
  readIntoOwnBuffer,
  readSocketsDirectly,
  type SocketInputOptions,
} from '../src/transfer/socket-input.js';
import { lessCopyingWires } from '../src/transfer/wire-parser.js';
import { bareClient, listeningPort, seedFile } from './helpers/bare-client.js';

const SIZE = 1 << 20;
let dir: string;
let data: Buffer;
const clients: WebTorrent[] = [];

function client(secure = 0): WebTorrent {
  const c = bareClient(secure);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  ({ dir, data } = await seedFile('tsw-socket-input-', SIZE));
});

afterAll(async () => {
  for (const c of clients) await new Promise<void>((resolve) => c.destroy(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** A leecher fetching the file from a fresh seeder; `during` runs while it downloads. */
async function download(
  name: string,
  setup: (leecher: WebTorrent) => void,
  during?: (leecher: WebTorrent) => void,
  secure = 0,
  options: SocketInputOptions = defaultSocketInput,
) {
  const seeder = client(secure);
  const port = await listeningPort(seeder);
  // pieceLength: not in the project's webtorrent types, passed on to create-torrent
  const seedOpts = { announce: [], pieceLength: 32 * 1024 } as { announce: string[] };
  const seeded = await new Promise<Torrent>((resolve) =>
    seeder.seed(join(dir, 'seed', 'image.img'), seedOpts, resolve),
  );
  const { torrentFile } = seeded as unknown as { torrentFile: Uint8Array };
  const leecher = client(secure);
  setup(leecher);
  const ways = { direct: 0, streams: 0, largestDirect: 0 };
  const torrent: Torrent = leecher.add(torrentFile, { path: join(dir, name) });
  lessCopyingWires(torrent, { reuseBlockBuffer: false });
  readSocketsDirectly(
    torrent,
    (way, bytes) => {
      ways[way] += bytes;
      if (way === 'direct') ways.largestDirect = Math.max(ways.largestDirect, bytes);
    },
    options,
  );
  torrent.once('ready', () => torrent.addPeer(`127.0.0.1:${port}`));
  const started = Date.now();
  const stop = during?.(leecher);
  await new Promise((resolve, reject) => {
    torrent.once('done', resolve);
    torrent.once('error', reject);
  });
  if (typeof stop === 'function') (stop as () => void)();
  const seconds = (Date.now() - started) / 1000;
  const got = await readFile(join(dir, name, 'image.img'));
  return { ways, seconds, received: torrent.received, same: got.equals(data) };
}

describe('readSocketsDirectly', () => {
  it('hands socket reads to the wire parser when no download limit is set', async () => {
    const r = await download('direct', () => {});
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBeGreaterThan(SIZE / 2);
    // The peer's download events still count every read (those before the handshake
    // completed, when the wire was announced, went the stream way unobserved).
    expect(r.received - (r.ways.direct + r.ways.streams)).toBeGreaterThanOrEqual(0);
    expect(r.received - (r.ways.direct + r.ways.streams)).toBeLessThan(1024);
  }, 30_000);

  it('goes through the throttle while a limit is set, and the limit holds', async () => {
    const r = await download('limited', (leecher) => leecher.throttleDownload(256 * 1024));
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBe(0);
    // 1 MiB at 256 KiB/s: about 4 s (the token bucket starts full: allow for one second's burst)
    expect(r.seconds).toBeGreaterThan(2.5);
  }, 30_000);

  it('keeps the bytes in order when the limit is switched on and off during the download', async () => {
    const r = await download(
      'switching',
      (leecher) => leecher.throttleDownload(2 * 1024 * 1024),
      (leecher) => {
        let on = true;
        const timer = setInterval(() => {
          on = !on;
          leecher.throttleDownload(on ? 2 * 1024 * 1024 : -1);
        }, 40);
        return () => clearInterval(timer);
      },
    );
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBeGreaterThan(0);
    expect(r.ways.streams).toBeGreaterThan(0);
  }, 30_000);

  it('reads through a buffer of readBufferBytes (smaller than a block): byte-exact, no larger read', async () => {
    const r = await download('small-buffer', () => {}, undefined, 0, { readBufferBytes: 5000 });
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBeGreaterThan(SIZE / 2);
    expect(r.ways.largestDirect).toBeLessThanOrEqual(5000);
  }, 30_000);

  it('leaves encrypted connections to the streams (wire-parser.ts does not parse them either)', async () => {
    const r = await download('encrypted', () => {}, undefined, 1);
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBe(0);
    expect(r.ways.streams).toBeGreaterThan(SIZE);
  }, 30_000);
});

describe('readIntoOwnBuffer', () => {
  it('reads a TCP socket into one buffer, every byte in order, without data events', async () => {
    const sent = Buffer.alloc(4 << 20);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 31 + (i >> 10)) & 0xff;
    const server = createServer((peer) => peer.end(sent));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
    const copies: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let dataEvents = 0;
    socket.on('data', () => dataEvents++);
    expect(
      readIntoOwnBuffer(socket, 100_000, (read) => {
        buffers.add(read.buffer);
        copies.push(Buffer.from(read));
        return true;
      }),
    ).toBe(true);
    // a second time on the same socket: left as it is
    expect(readIntoOwnBuffer(socket, 1000, () => true)).toBe(false);
    await once(socket, 'end');
    server.close();
    expect(Buffer.concat(copies).equals(sent)).toBe(true);
    expect(buffers.size).toBe(1);
    expect(Math.max(...copies.map((c) => c.length))).toBeLessThanOrEqual(100_000);
    expect(dataEvents).toBe(0);
  });
});

// bittorrent-protocol is webtorrent's dependency, not ours: load the copy webtorrent uses.
const webtorrentDir = dirname(fileURLToPath(import.meta.resolve('webtorrent')));
const { default: WireClass } = (await import(
  pathToFileURL(join(webtorrentDir, '..', 'bittorrent-protocol', 'index.js')).href
)) as { default: new () => Wire };

function haveMessage(index: number): Uint8Array {
  const out = new Uint8Array(9);
  new DataView(out.buffer).setUint32(0, 5);
  out[4] = 4;
  new DataView(out.buffer).setUint32(5, index);
  return out;
}

describe('readSocketsDirectly, order', () => {
  it('never parses a read ahead of chunks still travelling through the pipes', () => {
    // The pipes held by hand: what the socket writes into the throttle stays queued until
    // `deliver` hands it to the wire, as webtorrent's streams do a few ticks later.
    const queued: Uint8Array[] = [];
    const throttle = {
      enabled: false,
      write: (chunk: Uint8Array) => queued.push(chunk) > 0,
      _areBothEnabled: () => throttle.enabled,
    };
    const wire = new WireClass();
    const peer = Object.assign(new EventEmitter(), {
      wire,
      conn: { _readableState: { pipes: [throttle] } },
      destroyed: false,
    });
    const torrent = Object.assign(new EventEmitter(), { _peers: new Map([['p', peer]]) });
    lessCopyingWires(torrent as unknown as Torrent, { reuseBlockBuffer: false });
    const ways: string[] = [];
    let counted = 0;
    peer.on('download', (bytes: number) => {
      counted += bytes;
    });
    readSocketsDirectly(torrent as unknown as Torrent, (way) => ways.push(way));
    torrent.emit('wire', wire);
    const write = (wire as unknown as { _write(d: Uint8Array, cb: () => void): void })._write.bind(wire);
    const deliver = () => {
      for (const chunk of queued.splice(0)) write(chunk, () => {});
    };
    const haves: number[] = [];
    wire.on('have', (index: number) => haves.push(index));
    // webtorrent's bittorrent-protocol expects the handshake first
    const hs = new Uint8Array(68);
    hs[0] = 19;
    hs.set(new TextEncoder().encode('BitTorrent protocol'), 1);
    write(hs, () => {});

    const socket = (chunk: Uint8Array) => throttle.write(chunk);
    socket(haveMessage(1)); // unknown state at first: the stream way
    deliver();
    socket(haveMessage(2)); // the pipes are empty now: parsed at once
    expect(haves).toEqual([1, 2]);

    throttle.enabled = true; // a limit: the stream way, and a chunk waits in the throttle
    socket(haveMessage(3));
    throttle.enabled = false; // limit off while 3 is still queued
    socket(haveMessage(4)); // must not overtake 3
    expect(haves).toEqual([1, 2]);
    deliver();
    expect(haves).toEqual([1, 2, 3, 4]);
    socket(haveMessage(5)); // 4 was the last one queued and has arrived: direct again
    expect(haves).toEqual([1, 2, 3, 4, 5]);
    expect(ways).toEqual(['streams', 'direct', 'streams', 'streams', 'direct']);
    // the reads parsed directly were counted as the counting transform would (2 and 5)
    expect(counted).toBe(2 * 9);
    wire.destroy();
  });
});
