// A minimal BitTorrent seeder written for the receive-path tests: plain handshake, full
// bitfield, unchoke once interested, and a piece message for every request. It writes each message in
// small odd-sized chunks, one event-loop turn apart, so the agent's socket reads end inside
// block headers and bodies. It can corrupt chosen blocks. It announces itself to the tracker.

import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { TorrentInfo } from '@trustswarm/fetch';
import { bitfield, handshake, MessageReader, message, PROTOCOL } from './bt-wire.js';

export interface FakePeer {
  port: number;
  /** hex, as the agent reports it in ban events */
  peerId: string;
  /** blocks served, as `${piece}:${offset}` */
  served: string[];
  close(): Promise<void>;
}

/** The chunk sizes a message is cut into, in turn. */
const CHUNKS = [1, 3, 700, 5, 4093, 13, 9000, 2];

async function writeChopped(
  socket: Socket,
  data: Buffer,
  turn: { n: number },
  delayMs: number,
): Promise<void> {
  for (let off = 0; off < data.length && !socket.destroyed; ) {
    const size = CHUNKS[turn.n++ % CHUNKS.length] ?? 1;
    socket.write(data.subarray(off, off + size));
    off += size;
    await new Promise((resolve) => (delayMs ? setTimeout(resolve, delayMs) : setImmediate(resolve)));
  }
}

export async function startFakePeer(opts: {
  info: TorrentInfo;
  dataPath: string;
  announceUrl: string;
  /** return true to send this block with its first byte flipped */
  corrupt?: (piece: number, offset: number) => boolean;
  /** pause between the chunks of a message (a slow peer); default one event-loop turn */
  delayMs?: number;
}): Promise<FakePeer> {
  const delayMs = opts.delayMs ?? 0;
  const { info } = opts;
  const file = await open(opts.dataPath, 'r');
  const peerId = Buffer.concat([Buffer.from('-FK0001-'), randomBytes(12)]);
  const infoHash = Buffer.from(info.infoHash, 'hex');
  const served: string[] = [];
  const sockets = new Set<Socket>();

  const serve = (socket: Socket): void => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const turn = { n: 0 };
    // Replies go out in order, each chopped, one at a time.
    let sending: Promise<void> = Promise.resolve();
    const send = (data: Buffer) => {
      sending = sending.then(() => writeChopped(socket, data, turn, delayMs));
    };
    const onRequest = (piece: number, offset: number, length: number) => {
      sending = sending.then(async () => {
        const block = Buffer.alloc(length);
        await file.read(block, 0, length, piece * info.pieceLengthBytes + offset);
        if (opts.corrupt?.(piece, offset)) block[0] = (block[0] ?? 0) ^ 0xff;
        served.push(`${piece}:${offset}`);
        const head = Buffer.alloc(8);
        head.writeUInt32BE(piece, 0);
        head.writeUInt32BE(offset, 4);
        await writeChopped(socket, message(7, Buffer.concat([head, block])), turn, delayMs);
      });
    };
    const reader = new MessageReader(
      (theirs) => {
        if (!theirs.subarray(0, 20).equals(PROTOCOL) || !theirs.subarray(28, 48).equals(infoHash)) {
          socket.destroy();
          return false;
        }
        send(Buffer.concat([handshake(infoHash, peerId), bitfield(info.pieceCount, () => true)]));
        return true;
      },
      (id, payload) => {
        if (id === 2) send(message(1)); // interested: unchoke, as a real seeder does
        if (id === 6 && payload.length >= 12)
          onRequest(payload.readUInt32BE(0), payload.readUInt32BE(4), payload.readUInt32BE(8));
      },
    );
    socket.on('data', (data: Buffer) => reader.push(data));
  };

  const server: Server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('fake peer did not bind');
  const port = address.port;
  const query = (bytes: Buffer) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  const announce = `${opts.announceUrl}?info_hash=${query(infoHash)}&peer_id=${query(peerId)}&port=${port}&uploaded=0&downloaded=0&left=0&event=started&compact=1`;
  const response = await fetch(announce);
  if (!response.ok) throw new Error(`fake peer announce failed: ${response.status}`);
  await response.arrayBuffer();

  return {
    port,
    peerId: peerId.toString('hex'),
    served,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await file.close();
    },
  };
}
