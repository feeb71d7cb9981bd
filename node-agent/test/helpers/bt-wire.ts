// BitTorrent wire framing for the test peers (raw-peer.ts, a client; fake-peer.ts, a seeder):
// the 68-byte handshake, length-prefixed messages, and a reader that cuts a byte stream into
// them wherever the reads happen to end.

export const PROTOCOL = Buffer.from('\x13BitTorrent protocol');
const HANDSHAKE_BYTES = 68;

/** pstrlen + pstr, 8 reserved bytes (no extensions), info hash, peer id */
export function handshake(infoHash: Buffer, peerId: Buffer): Buffer {
  return Buffer.concat([PROTOCOL, Buffer.alloc(8), infoHash, peerId]);
}

/** <length><id><payload> */
export function message(id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length + 1, 0);
  head[4] = id;
  return Buffer.concat([head, payload]);
}

/** Message 5, BITFIELD: the pieces `has` accepts. */
export function bitfield(pieceCount: number, has: (index: number) => boolean): Buffer {
  const bits = Buffer.alloc(Math.ceil(pieceCount / 8));
  for (let i = 0; i < pieceCount; i++) if (has(i)) bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i & 7));
  return message(5, bits);
}

/** A message whose payload is big-endian 32-bit numbers (HAVE, REQUEST). */
export function numbers(id: number, ...values: number[]): Buffer {
  const payload = Buffer.alloc(4 * values.length);
  for (const [k, v] of values.entries()) payload.writeUInt32BE(v, 4 * k);
  return message(id, payload);
}

/** Cuts a stream into the handshake, then messages (keep-alives have no id). */
export class MessageReader {
  private input = Buffer.alloc(0);
  private handshaken = false;

  constructor(
    /** return false to stop reading (a wrong peer) */
    private readonly onHandshake: (handshake: Buffer) => boolean,
    private readonly onMessage: (id: number | undefined, payload: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.input = Buffer.concat([this.input, chunk]);
    if (!this.handshaken) {
      if (this.input.length < HANDSHAKE_BYTES) return;
      if (!this.onHandshake(this.input.subarray(0, HANDSHAKE_BYTES))) return;
      this.input = this.input.subarray(HANDSHAKE_BYTES);
      this.handshaken = true;
    }
    while (this.input.length >= 4) {
      const length = this.input.readUInt32BE(0);
      if (this.input.length < 4 + length) return;
      const body = this.input.subarray(4, 4 + length);
      this.input = this.input.subarray(4 + length);
      this.onMessage(length > 0 ? body[0] : undefined, body.subarray(1));
    }
  }
}
