// A bare BitTorrent peer for wire-level tests: a handshake without extensions, then it
// records what the other side says (pieces shown, choke state) and sends what a test asks.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { bitfield, handshake, MessageReader, message, numbers } from './bt-wire.js';

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
  /** whether the other side says it wants to download from us (INTERESTED / NOT INTERESTED) */
  wanted = false;
  /** how often the other side said INTERESTED, and NOT INTERESTED */
  interestedCount = 0;
  notInterestedCount = 0;
  private readonly reader = new MessageReader(
    () => true,
    (id, payload) => this.onMessage(id, payload),
  );
  private changed: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.changed?.();
    });
  }

  static async connect(port: number, infoHash: string): Promise<RawPeer> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const peer = new RawPeer(socket);
    socket.write(
      handshake(Buffer.from(infoHash, 'hex'), Buffer.concat([Buffer.from('-TS0000-'), randomBytes(12)])),
    );
    return peer;
  }

  /** Says we have no piece, as most clients do (message 5, BITFIELD, all zero). */
  emptyBitfield(pieceCount: number): void {
    this.bitfield(pieceCount, () => false);
  }

  /** Says which pieces we hold (message 5, BITFIELD). */
  bitfield(pieceCount: number, has: (index: number) => boolean): void {
    this.socket.write(bitfield(pieceCount, has));
  }

  /** Lets the other side download from us (message 1, UNCHOKE), or stops it (message 0, CHOKE). */
  unchoke(): void {
    this.socket.write(message(1));
  }
  choke(): void {
    this.socket.write(message(0));
  }

  /** Says we want to download (message 2, INTERESTED). */
  interested(): void {
    this.socket.write(message(2));
  }

  /** Tells the other side we now have `index` (message 4, HAVE). */
  have(index: number): void {
    this.socket.write(numbers(4, index));
  }

  /** Asks for a block (message 6, REQUEST). */
  request(index: number, offset: number, length: number): void {
    this.socket.write(numbers(6, index, offset, length));
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

  private onMessage(id: number | undefined, payload: Buffer): void {
    if (id === 0) {
      this.unchoked = false;
      this.chokedAt = Date.now();
    }
    if (id === 1) {
      this.unchoked = this.everUnchoked = true;
      this.unchokedAt = Date.now();
    }
    if (id === 2) {
      this.wanted = true;
      this.interestedCount += 1;
    }
    if (id === 3) {
      this.wanted = false;
      this.notInterestedCount += 1;
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
  }
}
