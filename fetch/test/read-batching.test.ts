// read-batching.ts on real TCP sockets on 127.0.0.1: a sender that trickles small writes (a
// slow link's segments) reaches a held socket in far fewer reads, every byte in order; a
// socket whose stream is paused by node (backpressure) is left to node and still delivers
// everything; close() lets held sockets read again at once; interval 0 never holds, nor does a
// socket whose connection has too little queued to stay busy through a hold. A socket
// that socket-input.ts reads into its own buffer (no `data` events) is held the same way.

import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  busyThroughHold,
  HOLD_MIN_QUEUED_BLOCKS,
  type QueuedWork,
  ReadBatcher,
} from '../src/transfer/read-batching.js';
import { readIntoOwnBuffer, SOCKET_READ_EVENT } from '../src/transfer/socket-input.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

/** A sender writing `count` chunks of `size` bytes, one per `gapMs`, and a connected client socket. */
async function trickle(count: number, size: number, gapMs: number) {
  const sent = Buffer.alloc(count * size);
  for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 8)) & 0xff;
  const server = createServer(async (peer) => {
    peer.setNoDelay(true);
    for (let i = 0; i < count; i++) {
      peer.write(sent.subarray(i * size, (i + 1) * size));
      await sleep(gapMs);
    }
    peer.end();
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const socket = connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  await once(socket, 'connect');
  return { socket, sent };
}

/** Reads until the end; the number of `data` events and the bytes, in order. */
async function receive(socket: Socket): Promise<{ reads: number; bytes: Buffer }> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'end');
  return { reads: chunks.length, bytes: Buffer.concat(chunks) };
}

/**
 * A seeder and a leecher on loopback: the leecher keeps `pipeline` 4-byte requests in flight,
 * the seeder answers each with a 16 KiB block; the batcher holds the seeder's socket. Returns
 * the bytes the leecher got and how often the seeder's socket was held.
 */
async function serveBlocks(batcher: ReadBatcher, blocks: number, pipeline: number) {
  const block = Buffer.alloc(16 * 1024, 7);
  const server = createServer((seeder) => {
    batcher.attach(seeder);
    let pending = 0;
    seeder.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      for (; pending >= 4; pending -= 4) seeder.write(block);
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const leecher = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
  sockets.push(leecher);
  await once(leecher, 'connect');
  leecher.setNoDelay(true);
  let asked = Math.min(pipeline, blocks);
  leecher.write(Buffer.alloc(4 * asked));
  let received = 0;
  await new Promise<void>((resolve) => {
    leecher.on('data', (chunk: Buffer) => {
      const before = Math.floor(received / block.length);
      received += chunk.length;
      const done = Math.floor(received / block.length);
      // one new request per block completed, as a leecher's pipeline refills
      const more = Math.min(done - before, blocks - asked);
      if (more > 0) {
        asked += more;
        leecher.write(Buffer.alloc(4 * more));
      }
      if (received >= blocks * block.length) resolve();
    });
  });
  return { received, holds: batcher.holds };
}

describe('read batching', () => {
  it('gathers a trickle of small segments into few reads, bytes in order', async () => {
    const plain = await trickle(120, 1000, 2);
    const unbatched = await receive(plain.socket);

    const batcher = new ReadBatcher({ intervalMs: 25, smallBytes: 32 * 1024 });
    const held = await trickle(120, 1000, 2);
    expect(batcher.attach(held.socket)).toBe(true);
    const batched = await receive(held.socket);
    batcher.close();

    expect(unbatched.bytes.equals(plain.sent)).toBe(true);
    expect(batched.bytes.equals(held.sent)).toBe(true);
    expect(batcher.holds).toBeGreaterThan(0);
    // ~120 segments over ≥ 240 ms: one read each without batching, about one per 25 ms with it
    expect(unbatched.reads).toBeGreaterThan(60);
    expect(batched.reads).toBeLessThan(unbatched.reads / 3);
  });

  it('holds a socket read into its own buffer (socket-input.ts reports its reads), bytes in order', async () => {
    const batcher = new ReadBatcher({ intervalMs: 25, smallBytes: 32 * 1024 });
    const held = await trickle(120, 1000, 2);
    expect(batcher.attach(held.socket)).toBe(true);
    const reads: Buffer[] = [];
    const own = readIntoOwnBuffer(held.socket, 64 * 1024, (read) => {
      reads.push(Buffer.from(read));
      held.socket.emit(SOCKET_READ_EVENT, read.length);
      return true;
    });
    expect(own).toBe(true);
    held.socket.resume();
    await once(held.socket, 'end');
    batcher.close();
    expect(Buffer.concat(reads).equals(held.sent)).toBe(true);
    expect(batcher.holds).toBeGreaterThan(0);
    expect(reads.length).toBeLessThan(40); // ~120 without batching (see above)
  });

  it('leaves a socket paused by its stream to node, and it still delivers everything', async () => {
    const batcher = new ReadBatcher({ intervalMs: 10, smallBytes: 32 * 1024 });
    const { socket, sent } = await trickle(60, 1500, 1);
    batcher.attach(socket);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // a slow consumer: the stream pauses, node may stop and restart the handle itself
      socket.pause();
      setTimeout(() => socket.resume(), 3);
    });
    await once(socket, 'end');
    batcher.close();
    expect(Buffer.concat(chunks).equals(sent)).toBe(true);
  });

  it('close() lets a held socket read again without waiting for the tick', async () => {
    const batcher = new ReadBatcher({ intervalMs: 60_000, smallBytes: 32 * 1024 });
    const { socket, sent } = await trickle(3, 100, 30);
    batcher.attach(socket);
    const got = receive(socket);
    await sleep(150); // the first read held the socket; a minute-long tick would hold it
    batcher.close();
    const { bytes } = await got;
    expect(bytes.equals(sent)).toBe(true);
  });

  it('stops holding a seeder socket once it moves more than fastBytesPerSecond', async () => {
    // 1024 blocks, 16 in flight: held every 25 ms it would move 16 blocks per hold (~64 holds)
    const capped = new ReadBatcher({ intervalMs: 25, fastBytesPerSecond: Number.POSITIVE_INFINITY });
    const slowRun = await serveBlocks(capped, 1024, 16);
    capped.close();
    const adaptive = new ReadBatcher({ intervalMs: 25, fastBytesPerSecond: 1_000_000 });
    const fastRun = await serveBlocks(adaptive, 1024, 16);
    adaptive.close();
    expect(slowRun.received).toBe(1024 * 16 * 1024);
    expect(fastRun.received).toBe(1024 * 16 * 1024);
    expect(slowRun.holds).toBeGreaterThan(30);
    // the first short reads are held until one interval shows ~10 MB/s, then never again
    expect(fastRun.holds).toBeLessThanOrEqual(3);
  });

  it('an interval of 0 never holds a socket', async () => {
    const batcher = new ReadBatcher({ intervalMs: 0, smallBytes: 32 * 1024 });
    const { socket, sent } = await trickle(20, 500, 1);
    expect(batcher.attach(socket)).toBe(false);
    const { bytes } = await receive(socket);
    expect(bytes.equals(sent)).toBe(true);
    expect(batcher.holds).toBe(0);
  });

  it('never holds a socket while its mayHold says no, bytes in order', async () => {
    const batcher = new ReadBatcher({ intervalMs: 25, smallBytes: 32 * 1024 });
    let allowed = false;
    const { socket, sent } = await trickle(120, 1000, 2);
    expect(batcher.attach(socket, () => allowed)).toBe(true);
    const first = receive(socket);
    await sleep(100);
    expect(batcher.holds).toBe(0);
    allowed = true; // the same socket is held once the connection has work queued
    const { bytes } = await first;
    batcher.close();
    expect(bytes.equals(sent)).toBe(true);
    expect(batcher.holds).toBeGreaterThan(0);
  });

  it('a connection is held only when each direction that may carry blocks has enough queued', () => {
    const queued = (n: number) => Array.from({ length: n }, () => ({}));
    const wire = (w: Partial<QueuedWork>): QueuedWork => ({
      requests: [],
      peerRequests: [],
      peerChoking: true,
      amInterested: false,
      amChoking: true,
      peerInterested: false,
      ...w,
    });
    const full = HOLD_MIN_QUEUED_BLOCKS;
    // nothing can flow either way: holding starves nothing
    expect(busyThroughHold(wire({}))).toBe(true);
    // downloading (unchoked by an interesting peer): our requests in flight decide
    const down = { peerChoking: false, amInterested: true };
    expect(busyThroughHold(wire({ ...down, requests: queued(2) }))).toBe(false);
    expect(busyThroughHold(wire({ ...down, requests: queued(full) }))).toBe(true);
    // uploading (we unchoke an interested peer): its requests waiting at us decide
    const up = { amChoking: false, peerInterested: true };
    expect(busyThroughHold(wire({ ...up, peerRequests: queued(full - 1) }))).toBe(false);
    expect(busyThroughHold(wire({ ...up, peerRequests: queued(full) }))).toBe(true);
    // both ways: both must be busy
    expect(busyThroughHold(wire({ ...down, ...up, requests: queued(full), peerRequests: queued(3) }))).toBe(
      false,
    );
    expect(
      busyThroughHold(wire({ ...down, ...up, requests: queued(full), peerRequests: queued(full) })),
    ).toBe(true);
  });
});
