// A bare BitTorrent peer for wire-level tests: a handshake without extensions, then it
// records what the other side says (pieces shown, choke state) and sends what a test asks.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** A bare BitTorrent peer (no extensions) that records the pieces the other side shows. */
export class RawPeer {
  readonly shown = new Set<number>();
  bitfieldBits = -1;
  /** whether the other side currently lets us download (it starts choking) */
  unchoked = false;
  everUnchoked = false;
  /** when the other side last choked us (ms since epoch), 0 if never */
  chokedAt = 0;
  /** when the other side last unchoked us (ms since epoch), 0 if never */
  unchokedAt = 0;
  /** blocks received (message 7, PIECE) */
  blocks = 0;
  private buffer = Buffer.alloc(0);
  private handshakeDone = false;
  private changed: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static async connect(port: number, infoHash: string): Promise<RawPeer> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const peer = new RawPeer(socket);
    const pstr = Buffer.from('BitTorrent protocol');
    socket.write(
      Buffer.concat([
        Buffer.from([pstr.length]),
        pstr,
        Buffer.alloc(8),
        Buffer.from(infoHash, 'hex'),
        Buffer.concat([Buffer.from('-TS0000-'), randomBytes(12)]),
      ]),
    );
    return peer;
  }

  /** Says we have no piece, as most clients do (message 5, BITFIELD, all zero). */
  emptyBitfield(pieceCount: number): void {
    const bytes = Math.ceil(pieceCount / 8);
    const msg = Buffer.alloc(5 + bytes);
    msg.writeUInt32BE(1 + bytes, 0);
    msg[4] = 5;
    this.socket.write(msg);
  }

  /** Says we want to download (message 2, INTERESTED). */
  interested(): void {
    this.socket.write(Buffer.from([0, 0, 0, 1, 2]));
  }

  /** Tells the other side we now have `index` (message 4, HAVE). */
  have(index: number): void {
    const msg = Buffer.alloc(9);
    msg.writeUInt32BE(5, 0);
    msg[4] = 4;
    msg.writeUInt32BE(index, 5);
    this.socket.write(msg);
  }

  /** Asks for a block (message 6, REQUEST). */
  request(index: number, offset: number, length: number): void {
    const msg = Buffer.alloc(17);
    msg.writeUInt32BE(13, 0);
    msg[4] = 6;
    msg.writeUInt32BE(index, 5);
    msg.writeUInt32BE(offset, 9);
    msg.writeUInt32BE(length, 13);
    this.socket.write(msg);
  }

  async until(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the seed');
      await new Promise<void>((resolve) => {
        this.changed = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.handshakeDone) {
      if (this.buffer.length < 68) return;
      this.buffer = this.buffer.subarray(68);
      this.handshakeDone = true;
    }
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (this.buffer.length < 4 + length) return;
      const id = length > 0 ? this.buffer[4] : undefined;
      const payload = this.buffer.subarray(5, 4 + length);
      if (id === 0) {
        this.unchoked = false;
        this.chokedAt = Date.now();
      }
      if (id === 1) {
        this.unchoked = this.everUnchoked = true;
        this.unchokedAt = Date.now();
      }
      if (id === 7) this.blocks += 1;
      if (id === 4) this.shown.add(payload.readUInt32BE(0));
      if (id === 5) {
        this.bitfieldBits = 0;
        for (let i = 0; i < payload.length * 8; i++) {
          if ((payload[i >> 3] ?? 0) & (0x80 >> (i & 7))) {
            this.bitfieldBits += 1;
            this.shown.add(i);
          }
        }
      }
      this.buffer = this.buffer.subarray(4 + length);
    }
    this.changed?.();
  }
}
