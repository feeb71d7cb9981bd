// Fewer copies on the receive path. bittorrent-protocol's `Wire#_write` concatenates every
// incoming socket chunk with the unparsed rest of the previous one, so each received byte is
// copied once more before a message is even parsed, and every chunk becomes a new garbage
// buffer (~1 GiB of copies and garbage per GiB downloaded; measured with --cpu-prof). This
// keeps the chunks in a list instead: a message inside one chunk is handed on as a view (no
// copy), and only a message that straddles chunks is copied, once. Parsing itself
// (`_parser`, `_parserSize`) is bittorrent-protocol's. While protocol encryption or its
// handshake is in progress the original method runs (it also flattens the list first).
//
// With `reuseBlockBuffer`, a piece message (a 16 KiB block) that straddles chunks — about one
// per socket read — is gathered into one buffer per wire, reused for every such block,
// instead of a new 16 KiB buffer each time (tens of thousands per GiB, each external memory
// V8 has to account and collect). Only for torrents whose block consumer copies the block
// before returning and keeps no reference (piece-verify.ts, with peer-bans.ts in its
// failed-piece mode); nothing else in webtorrent listens to a wire's `piece` event.

import type { Torrent, Wire } from 'webtorrent';

interface WireInternals {
  _write(data: Uint8Array, cb: (err: Error | null) => void): void;
  _buffer: Uint8Array[];
  _bufferSize: number;
  _parserSize: number;
  _parser(buffer: Uint8Array): void;
  _onMessage(buffer: Uint8Array): void;
  _encryptor?: unknown;
  _cryptoSyncPattern?: unknown;
  _pePending?: unknown;
}

function isPlain(wire: WireInternals): boolean {
  return !wire._encryptor && !wire._cryptoSyncPattern && !wire._pePending;
}

const PIECE_MESSAGE = 7;

/**
 * Takes `size` bytes off the front of the chunk list: a view when possible, else one copy —
 * into `scratch` when given and big enough, else into a new buffer.
 */
function take(wire: WireInternals, size: number, scratch?: Uint8Array): Uint8Array {
  const chunks = wire._buffer;
  wire._bufferSize -= size;
  const first = chunks[0] as Uint8Array;
  if (first.length >= size) {
    if (first.length === size) chunks.shift();
    else chunks[0] = first.subarray(size);
    return first.subarray(0, size);
  }
  const out = scratch && scratch.length >= size ? scratch.subarray(0, size) : new Uint8Array(size);
  let offset = 0;
  while (offset < size) {
    const chunk = chunks[0] as Uint8Array;
    const n = Math.min(chunk.length, size - offset);
    out.set(n === chunk.length ? chunk : chunk.subarray(0, n), offset);
    offset += n;
    if (n === chunk.length) chunks.shift();
    else chunks[0] = chunk.subarray(n);
  }
  return out;
}

/** A piece message (block) is next: its body is awaited and starts with id 7. */
function pieceMessageNext(wire: WireInternals): boolean {
  return wire._parser === wire._onMessage && wire._buffer[0]?.[0] === PIECE_MESSAGE;
}

/**
 * The replaced `_write` of a plain wire, for socket-input.ts, which feeds socket reads to
 * `parse` itself and must see every chunk that still comes the stream way (`onWrite`).
 */
export interface WireInput {
  /** Parses one chunk of a plain wire's input, as `_write` does. */
  parse(data: Uint8Array): void;
  /** Whether the wire is still plain (no protocol encryption): only then may `parse` be used. */
  plain(): boolean;
  onWrite?: (data: Uint8Array) => void;
}

const inputs = new WeakMap<object, WireInput>();

/** The parser installed on `wire` by lessCopyingWires, if any. */
export function wireInput(wire: Wire): WireInput | undefined {
  return inputs.get(wire);
}

function install(wire: WireInternals, reuseBlockBuffer: boolean): void {
  const original = wire._write.bind(wire);
  // 16 KiB block + 9 bytes of header; a larger piece message gets a buffer of its own.
  const scratch = reuseBlockBuffer ? new Uint8Array((1 << 14) + 9) : undefined;
  const input: WireInput = {
    parse(data) {
      wire._buffer.push(data);
      wire._bufferSize += data.length;
      while (wire._bufferSize >= wire._parserSize && isPlain(wire)) {
        const size = wire._parserSize;
        if (size === 0) wire._parser(new Uint8Array());
        else wire._parser(take(wire, size, scratch && pieceMessageNext(wire) ? scratch : undefined));
      }
    },
    plain: () => isPlain(wire),
  };
  inputs.set(wire, input);
  wire._write = (data, cb) => {
    input.onWrite?.(data);
    if (!isPlain(wire)) return original(data, cb);
    input.parse(data);
    cb(null);
  };
}

export function lessCopyingWires(torrent: Torrent, opts: { reuseBlockBuffer: boolean }): void {
  torrent.on('wire', (wire: Wire) => {
    const internals = wire as unknown as WireInternals;
    if (
      wire.type === 'webSeed' ||
      typeof internals._write !== 'function' ||
      !Array.isArray(internals._buffer)
    ) {
      return;
    }
    install(internals, opts.reuseBlockBuffer);
  });
}
