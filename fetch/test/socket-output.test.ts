// socket-output.ts between real webtorrent clients on 127.0.0.1: without an upload limit the
// seeder's blocks go straight to the socket; with a limit they go through webtorrent's
// throttle and the limit holds; a limit set while uploading takes effect; switching it on and
// off many times keeps the bytes in order; encrypted connections keep going the stream way;
// the engine's status (uploaded bytes, upload rates) stays right. A peer that asks for blocks
// and stops reading gets only a bounded amount buffered, and everything once it reads again.
// And, with the pipes held by hand, a write never overtakes chunks still in them.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebTorrent from 'webtorrent';
import type { Torrent, Wire } from 'webtorrent';
import { defaultTransferConfig, type TransferConfig, TransferEngine } from '../src/transfer/engine.js';
import { limitRequestPipeline } from '../src/transfer/request-pipeline.js';
import {
  DEFAULT_MAX_BUFFERED_BYTES,
  type WriteObserver,
  writeSocketsDirectly,
} from '../src/transfer/socket-output.js';
import { readTorrentInfo } from '../src/transfer/torrent-file.js';
import { gatherWireWrites } from '../src/transfer/wire-writer.js';
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
  ({ dir, data } = await seedFile('tsw-socket-output-', SIZE));
});

afterAll(async () => {
  for (const c of clients) await new Promise<void>((resolve) => c.destroy(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** A seeder with socket-output.ts (and wire-writer.ts, as the engine runs them). */
async function seeder(
  setup: (c: WebTorrent) => void,
  secure = 0,
  file = join(dir, 'seed', 'image.img'),
  onWrite?: (ways: { direct: number; streams: number }) => void,
) {
  const c = client(secure);
  setup(c);
  const port = await listeningPort(c);
  const ways = { direct: 0, streams: 0 };
  const observe: WriteObserver = (way, bytes) => {
    ways[way] += bytes;
    onWrite?.(ways);
  };
  // pieceLength: not in the project's webtorrent types, passed on to create-torrent
  const seedOpts = { announce: [], pieceLength: 32 * 1024 } as { announce: string[] };
  const torrent = await new Promise<Torrent>((resolve) => {
    const t = c.seed(file, seedOpts, resolve);
    gatherWireWrites(t);
    writeSocketsDirectly(t, { observe });
  });
  const { torrentFile } = torrent as unknown as { torrentFile: Uint8Array };
  return { client: c, torrent, torrentFile, port, ways };
}

/** A plain webtorrent leecher fetching the file from the seeder; `during` runs meanwhile. */
async function download(
  name: string,
  setup: (seederClient: WebTorrent) => void,
  during?: (seederClient: WebTorrent) => (() => void) | undefined,
  secure = 0,
) {
  const s = await seeder(setup, secure);
  const leecher = client(secure);
  const torrent: Torrent = leecher.add(s.torrentFile, { path: join(dir, name) });
  torrent.once('ready', () => torrent.addPeer(`127.0.0.1:${s.port}`));
  const started = Date.now();
  const stop = during?.(s.client);
  await new Promise((resolve, reject) => {
    torrent.once('done', resolve);
    torrent.once('error', reject);
  });
  stop?.();
  const seconds = (Date.now() - started) / 1000;
  const got = await readFile(join(dir, name, 'image.img'));
  return { ways: s.ways, seconds, uploaded: s.torrent.uploaded, same: got.equals(data) };
}

describe('writeSocketsDirectly', () => {
  it('writes blocks straight to the socket when no upload limit is set, counted as uploaded', async () => {
    const r = await download('direct', () => {});
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBeGreaterThan(SIZE);
    // The torrent's uploaded bytes count every write, direct or not (plus what was sent
    // before the wire was announced: the handshakes).
    expect(r.uploaded - (r.ways.direct + r.ways.streams)).toBeGreaterThanOrEqual(0);
    expect(r.uploaded - (r.ways.direct + r.ways.streams)).toBeLessThan(1024);
  }, 30_000);

  it('goes through the throttle while a limit is set, and the limit holds', async () => {
    const r = await download('limited', (s) => s.throttleUpload(256 * 1024));
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBe(0);
    // 1 MiB at 256 KiB/s: about 4 s (the token bucket starts full: allow for one second's burst)
    expect(r.seconds).toBeGreaterThan(2.5);
  }, 30_000);

  it('throttles from the moment a limit is set while uploading', async () => {
    let limitedAt = 0;
    let directAtLimit = 0;
    // a quarter of the file sent unlimited, then 200 KiB/s (counted where it is sent: the
    // leecher's requests run seconds ahead of what it has received)
    const s = await seeder(
      () => {},
      0,
      undefined,
      (ways) => {
        if (limitedAt || ways.direct < SIZE / 4) return;
        limitedAt = Date.now();
        directAtLimit = ways.direct;
        s.client.throttleUpload(200 * 1024);
      },
    );
    const leecher = client();
    const torrent: Torrent = leecher.add(s.torrentFile, { path: join(dir, 'runtime') });
    torrent.once('ready', () => torrent.addPeer(`127.0.0.1:${s.port}`));
    await new Promise((resolve, reject) => {
      torrent.once('done', resolve);
      torrent.once('error', reject);
    });
    const seconds = (Date.now() - limitedAt) / 1000;
    expect((await readFile(join(dir, 'runtime', 'image.img'))).equals(data)).toBe(true);
    expect(directAtLimit).toBeGreaterThan(0);
    // After the limit, at most what was already on its way went direct (the gathered
    // batch of the current turn); the rest went through the throttle, at its rate:
    // ≥ 3/4 MiB at 200 KiB/s (one second's burst allowed).
    expect(s.ways.direct - directAtLimit).toBeLessThan(128 * 1024);
    expect(s.ways.streams).toBeGreaterThan(SIZE / 2);
    expect(seconds).toBeGreaterThan(2.5);
  }, 30_000);

  it('keeps the bytes in order when the limit is switched on and off during the upload', async () => {
    const r = await download(
      'switching',
      (s) => s.throttleUpload(2 * 1024 * 1024),
      (s) => {
        let on = true;
        const timer = setInterval(() => {
          on = !on;
          s.throttleUpload(on ? 2 * 1024 * 1024 : -1);
        }, 40);
        return () => clearInterval(timer);
      },
    );
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBeGreaterThan(0);
    expect(r.ways.streams).toBeGreaterThan(0);
  }, 30_000);

  it('leaves encrypted connections to the streams', async () => {
    const r = await download('encrypted', () => {}, undefined, 1);
    expect(r.same).toBe(true);
    expect(r.ways.direct).toBe(0);
    expect(r.ways.streams).toBeGreaterThan(SIZE);
  }, 30_000);
});

/** An engine that only seeds, on 127.0.0.1, found by nobody but the test's peers. */
function loopbackSeedConfig(extra: Partial<TransferConfig> = {}): TransferConfig {
  return {
    ...defaultTransferConfig,
    torrentPort: 0,
    listenAddress: '127.0.0.1',
    tracker: false,
    pex: false,
    dht: { enabled: false, bootstrap: [], port: 0 },
    webSeed: { enabled: false, delaySeconds: 0, noPeerGraceSeconds: 0 },
    ...extra,
  };
}

/**
 * The transfer engine seeding a copy of `data` from `dir/NAME` (tracker, PEX, DHT and web seed
 * off), with the .torrent a webtorrent client made of it (`pieceLength` when given).
 */
async function seedingEngine(name: string, pieceLength?: number) {
  const seedDir = join(dir, name);
  await mkdir(seedDir, { recursive: true });
  await writeFile(join(seedDir, 'image.img'), data);
  const probe = client();
  const seedOpts = { announce: [], ...(pieceLength ? { pieceLength } : {}) } as { announce: string[] };
  const torrentFile = await new Promise<Uint8Array>((resolve) => {
    const t = probe.seed(join(dir, 'seed', 'image.img'), seedOpts, () =>
      resolve((t as unknown as { torrentFile: Uint8Array }).torrentFile),
    );
  });
  const engine = await TransferEngine.start(loopbackSeedConfig());
  try {
    await engine.seed(torrentFile, seedDir);
  } catch (error) {
    await engine.destroy();
    throw error;
  }
  return { engine, torrentFile };
}

describe('the engine seeding through socket-output.ts', () => {
  it('reports uploaded bytes and upload rates (torrent and peer) as the stream path did', async () => {
    const { engine, torrentFile } = await seedingEngine('engine-seed');
    try {
      // 256 KiB/s from the start, so that rates can be sampled during the upload
      engine.setRates({ uploadLimitBytesPerSecond: 256 * 1024 });
      const leecher = client();
      const torrent: Torrent = leecher.add(torrentFile, { path: join(dir, 'engine-leech') });
      torrent.once('ready', () => torrent.addPeer(`127.0.0.1:${engine.port}`));
      const rates: Array<{ torrent: number; peer: number }> = [];
      const sampler = setInterval(() => {
        const s = engine.stats()[0];
        if (s?.peers[0])
          rates.push({ torrent: s.uploadBytesPerSecond, peer: s.peers[0].uploadBytesPerSecond });
      }, 200);
      // half the file limited, then unlimited (the direct way) until done
      const unlimited = new Promise<void>((resolve) =>
        torrent.on('download', () => {
          if (torrent.received < SIZE / 2) return;
          engine.setRates({ uploadLimitBytesPerSecond: 0 });
          resolve();
        }),
      );
      await unlimited;
      const limitedRates = [...rates];
      await new Promise((resolve, reject) => {
        torrent.once('done', resolve);
        torrent.once('error', reject);
      });
      clearInterval(sampler);
      const s = engine.stats()[0];
      expect(s?.uploadedBytes).toBeGreaterThanOrEqual(SIZE);
      // block data plus message headers (13 bytes per 16 KiB block) and the bitfield
      expect(s?.uploadedBytes).toBeLessThan(SIZE * 1.01 + 4096);
      // while limited, rates were seen, near the limit (allowing for a full token bucket and
      // throughput's first-second figures)
      const seen = limitedRates.filter((r) => r.torrent > 0);
      expect(seen.length).toBeGreaterThan(2);
      for (const r of seen) expect(r.torrent).toBeLessThan(3 * 256 * 1024);
      expect(Math.max(...seen.map((r) => r.peer))).toBeGreaterThan(64 * 1024);
      // after the switch, the direct way: still counted (the torrent's rate moved on)
      const last = rates.at(-1);
      expect(last?.torrent ?? 0).toBeGreaterThan(0);
      expect((await readFile(join(dir, 'engine-leech', 'image.img'))).equals(data)).toBe(true);
    } finally {
      await engine.destroy();
    }
  }, 30_000);
});

describe('the engine seeding directly, its piece buffers', () => {
  it('reads every piece into a few reused buffers: blocks go back to the store once written', async () => {
    const { engine, torrentFile } = await seedingEngine('engine-reuse-seed', 32 * 1024);
    try {
      const leecher = client();
      const torrent: Torrent = leecher.add(torrentFile, { path: join(dir, 'engine-reuse-leech') });
      // as an agent asks (request-pipeline.ts), so that a few pieces are served at once, not all
      limitRequestPipeline(torrent, 16);
      torrent.once('ready', () => torrent.addPeer(`127.0.0.1:${engine.port}`));
      await new Promise((resolve, reject) => {
        torrent.once('done', resolve);
        torrent.once('error', reject);
      });
      expect((await readFile(join(dir, 'engine-reuse-leech', 'image.img'))).equals(data)).toBe(true);
      type Inner = { store?: Inner; buffersAllocated?: number };
      const seeding = (engine as unknown as { client: { torrents: Array<{ store: Inner }> } }).client
        .torrents[0];
      let store: Inner | undefined = seeding?.store;
      while (store && store.buffersAllocated === undefined) store = store.store;
      // 32 pieces (33 reads) served; without the give-back each read took a new buffer. Some
      // do still: the first blocks go the stream way (the pipes may hold the handshake) and
      // are not given back, and a few pieces are being served at once (8-13 seen).
      expect(store?.buffersAllocated).toBeGreaterThan(0);
      expect(store?.buffersAllocated).toBeLessThanOrEqual(20);
    } finally {
      await engine.destroy();
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------
// A peer that asks for many blocks and does not read them.

const BLOCK = 16 * 1024;
const BIG = 32 << 20;

/** bytes held in userland for one seeder-side connection: the pipes and the socket buffer */
function bufferedFor(torrent: Torrent): number {
  const peers = (torrent as unknown as { _peers: Map<string, { wire?: unknown; conn?: Socket }> })._peers;
  let total = 0;
  for (const peer of peers.values()) {
    if (!peer.wire || !peer.conn) continue;
    total += peer.conn.writableLength;
    type State = { buffered?: number };
    type Stage = { _readableState?: State & { pipeTo?: unknown }; _writableState?: State };
    let stage = peer.wire as Stage | undefined;
    while (stage && stage !== (peer.conn as unknown)) {
      total +=
        (stage._readableState?.buffered ?? 0) +
        (stage === peer.wire ? 0 : (stage._writableState?.buffered ?? 0));
      stage = stage._readableState?.pipeTo as Stage | undefined;
    }
  }
  return total;
}

/** A raw BitTorrent peer: handshakes, says interested once it has the bitfield, waits to be unchoked. */
async function rawPeer(port: number, infoHash: string) {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const hs = Buffer.alloc(68);
  hs[0] = 19;
  hs.write('BitTorrent protocol', 1, 'latin1');
  Buffer.from(infoHash, 'hex').copy(hs, 28);
  randomBytes(20).copy(hs, 48);
  socket.write(hs);
  let buffer = Buffer.alloc(0);
  let handshaken = false;
  const blocks: Array<{ index: number; begin: number; body: Buffer }> = [];
  let unchoked: () => void = () => {};
  const unchoke = new Promise<void>((resolve) => {
    unchoked = resolve;
  });
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!handshaken) {
      if (buffer.length < 68) return;
      buffer = buffer.subarray(68);
      handshaken = true;
    }
    while (buffer.length >= 4 && buffer.length >= 4 + buffer.readUInt32BE(0)) {
      const len = buffer.readUInt32BE(0);
      const id = len > 0 ? buffer[4] : -1;
      if (id === 5) socket.write(Buffer.from([0, 0, 0, 1, 2])); // bitfield: interested
      if (id === 1) unchoked();
      if (id === 7) {
        blocks.push({
          index: buffer.readUInt32BE(5),
          begin: buffer.readUInt32BE(9),
          body: Buffer.from(buffer.subarray(13, 4 + len)),
        });
      }
      buffer = buffer.subarray(4 + len);
    }
  });
  await unchoke;
  return { socket, blocks };
}

/**
 * A request for every block of the BIG file (2048 of 16 KiB, 32 MiB, pieces of 32 KiB), the
 * socket paused first so that none of it is read until the seeder has had time to buffer it.
 */
function requestEveryBlock(socket: Socket): Buffer[] {
  socket.pause();
  const requests: Buffer[] = [];
  for (let b = 0; b < BIG / BLOCK; b++) {
    const m = Buffer.alloc(17);
    m.writeUInt32BE(13, 0);
    m[4] = 6;
    m.writeUInt32BE(Math.floor((b * BLOCK) / (32 * 1024)), 5);
    m.writeUInt32BE((b * BLOCK) % (32 * 1024), 9);
    m.writeUInt32BE(BLOCK, 13);
    requests.push(m);
  }
  socket.write(Buffer.concat(requests));
  return requests;
}

/** The most the seeder buffered in userland for its peers, sampled over 2 s. */
async function mostBuffered(torrent: Torrent): Promise<number> {
  let most = 0;
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 50));
    most = Math.max(most, bufferedFor(torrent));
  }
  return most;
}

describe('writeSocketsDirectly, a peer that stops reading', () => {
  for (const limited of [false, true]) {
    it(`keeps what is buffered for it bounded${limited ? ' (upload limit on: the stream way)' : ''}, and serves every request once it reads`, async () => {
      const big = join(dir, 'big');
      await mkdir(big, { recursive: true });
      const bigData = randomBytes(BIG);
      await writeFile(join(big, 'big.img'), bigData);
      const s = await seeder(
        (c) => {
          if (limited) c.throttleUpload(4 * 1024 * 1024);
        },
        0,
        join(big, 'big.img'),
      );
      const peer = await rawPeer(s.port, s.torrent.infoHash);
      const requests = requestEveryBlock(peer.socket);
      const most = await mostBuffered(s.torrent);
      const wire = s.torrent.wires[0] as unknown as { uploaded: number };
      // Without the gate, the seeder reads and queues whatever it can (20+ MiB in these 2 s);
      // with it, what the kernel's socket buffers took and about 1 MiB more.
      expect(most).toBeLessThan(2 * DEFAULT_MAX_BUFFERED_BYTES);
      expect(wire.uploaded).toBeLessThan(16 << 20);
      peer.socket.resume();
      const deadline = Date.now() + 20_000;
      while (peer.blocks.length < requests.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(peer.blocks.length).toBe(requests.length);
      // every block once, with the file's bytes
      const seen = new Set<number>();
      for (const [i, block] of peer.blocks.entries()) {
        const at = block.index * 32 * 1024 + block.begin;
        seen.add(at);
        if (i % 97 === 0) expect(block.body.equals(bigData.subarray(at, at + BLOCK))).toBe(true);
      }
      expect(seen.size).toBe(requests.length);
      peer.socket.destroy();
    }, 40_000);
  }
});

describe('the engine, a peer that stops reading', () => {
  it('buffers for it no more than transfer.sendBufferBytes (1 MiB by default)', async () => {
    const big = join(dir, 'engine-big');
    await mkdir(big, { recursive: true });
    await writeFile(join(big, 'big.img'), randomBytes(BIG));
    const { torrentFile } = await seeder(() => {}, 0, join(big, 'big.img'));
    const mostFor = async (sendBufferBytes?: number): Promise<number> => {
      const engine = await TransferEngine.start(
        loopbackSeedConfig(sendBufferBytes ? { sendBufferBytes } : {}),
      );
      try {
        await engine.seed(torrentFile, big);
        const seeding = (engine as unknown as { client: { torrents: Torrent[] } }).client.torrents[0];
        if (!seeding) throw new Error('not seeding');
        const peer = await rawPeer(engine.port, (await readTorrentInfo(torrentFile)).infoHash);
        requestEveryBlock(peer.socket);
        const most = await mostBuffered(seeding);
        peer.socket.destroy();
        return most;
      } finally {
        await engine.destroy();
      }
    };
    const small = await mostFor(64 * 1024);
    const byDefault = await mostFor();
    expect(small).toBeGreaterThan(0);
    expect(small).toBeLessThan(2 * 64 * 1024);
    expect(byDefault).toBeGreaterThan(512 * 1024);
    expect(byDefault).toBeLessThan(2 * DEFAULT_MAX_BUFFERED_BYTES);
  }, 40_000);
});

// ---------------------------------------------------------------------------------------
// Order, with the pipes held by hand.

// bittorrent-protocol and streamx are webtorrent's dependencies, not ours: load its copies.
const webtorrentDir = dirname(fileURLToPath(import.meta.resolve('webtorrent')));
const { default: WireClass } = (await import(
  pathToFileURL(join(webtorrentDir, '..', 'bittorrent-protocol', 'index.js')).href
)) as { default: new () => Wire & { have(index: number): void } };
const { Writable } = (await import(pathToFileURL(join(webtorrentDir, '..', 'streamx', 'index.js')).href)) as {
  Writable: new (opts: { write(chunk: Uint8Array, cb: (err?: Error | null) => void): void }) => EventEmitter;
};

describe('writeSocketsDirectly, order', () => {
  it('never writes ahead of chunks still travelling through the pipes', async () => {
    // The pipes held by hand: what the wire pushes waits in the "throttle" until `deliver`
    // hands it to the socket, as webtorrent's streams do a few ticks later.
    const queued: Array<{ chunk: Uint8Array; cb: () => void }> = [];
    const throttle = Object.assign(
      new Writable({
        write(chunk, cb) {
          queued.push({ chunk, cb: () => cb(null) });
        },
      }),
      { enabled: false, _areBothEnabled: () => throttle.enabled },
    );
    const sent: number[] = [];
    const conn = Object.assign(new EventEmitter(), {
      write: (chunk: Uint8Array) => {
        sent.push(new DataView(chunk.buffer, chunk.byteOffset).getUint32(5));
        return true;
      },
      cork: () => {},
      uncork: () => {},
      writableLength: 0,
      writableHighWaterMark: 16384,
      destroyed: false,
    });
    const wire = new WireClass();
    (wire as unknown as { pipe(to: unknown): void }).pipe(throttle);
    const peer = Object.assign(new EventEmitter(), { wire, conn, destroyed: false });
    const torrent = Object.assign(new EventEmitter(), { _peers: new Map([['p', peer]]) });
    const ways: string[] = [];
    let counted = 0;
    peer.on('upload', (bytes: number) => {
      counted += bytes;
    });
    writeSocketsDirectly(torrent as unknown as Torrent, { observe: (way) => ways.push(way) });
    torrent.emit('wire', wire);
    const tick = () => new Promise((r) => setTimeout(r, 5));
    /** lets everything in the pipes through to the socket (streamx passes one chunk at a time) */
    const deliver = async () => {
      await tick();
      while (queued.length > 0) {
        for (const { chunk, cb } of queued.splice(0)) {
          conn.write(chunk);
          cb();
        }
        await tick();
      }
    };

    wire.have(1); // unknown state at first: the stream way
    await deliver();
    wire.have(2); // the pipes are empty now: written at once
    expect(sent).toEqual([1, 2]);

    throttle.enabled = true; // a limit: the stream way, and a chunk waits in the throttle
    wire.have(3);
    throttle.enabled = false; // limit off while 3 is still queued
    wire.have(4); // must not overtake 3
    expect(sent).toEqual([1, 2]);
    await deliver();
    expect(sent).toEqual([1, 2, 3, 4]);
    wire.have(5); // 4 was the last one queued and has arrived: direct again
    expect(sent).toEqual([1, 2, 3, 4, 5]);
    expect(ways).toEqual(['streams', 'direct', 'streams', 'streams', 'direct']);
    // the writes made directly were counted as the counting transform would (2 and 5)
    expect(counted).toBe(2 * 9);
    wire.destroy();
  });
});
