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
//
// A block handed on may also be a view of a socket read buffer that socket-input.ts reuses
// for the next read. Such views must be consumed before `parse` returns: a consumer that
// defers its use of blocks (piece-verify.ts gathers the blocks of one read into one file
// write) registers `onParseEnd` for the torrent and finishes with them there; every other
// message that a handler may keep (bitfield, extended) is copied; and what stays unparsed is
// copied off the read buffer before the buffer is read into again.

import type { Torrent, Wire } from 'webtorrent';

interface WireInternals {
  _write(data: Uint8Array, cb: (err: Error | null) => void): void;
  _buffer: Uint8Array[];
  _bufferSize: number;
  _parserSize: number;
  _parser(buffer: Uint8Array): void;
  _onMessage(buffer: Uint8Array): void;
  _onMessageLength(buffer: Uint8Array): void;
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
  /**
   * Parses one chunk of a plain wire's input, as `_write` does. `reused`: the chunk's memory
   * is overwritten once this returns (socket-input.ts's read buffer): no message that a
   * consumer may keep is handed on as a view of it, and what stays unparsed is copied.
   */
  parse(data: Uint8Array, reused?: boolean): void;
  /** Whether the wire is still plain (no protocol encryption): only then may `parse` be used. */
  plain(): boolean;
  onWrite?: (data: Uint8Array) => void;
}

const inputs = new WeakMap<object, WireInput>();
/** per torrent: what runs when a parse of a chunk ends (see the module comment) */
const parseEnds = new WeakMap<object, () => void>();

/** Runs `fn` at the end of every parse of a chunk on the torrent's wires (before it returns). */
export function onParseEnd(torrent: Torrent, fn: () => void): void {
  parseEnds.set(torrent, fn);
}

/** The parser installed on `wire` by lessCopyingWires, if any. */
export function wireInput(wire: Wire): WireInput | undefined {
  return inputs.get(wire);
}

/**
 * Replaces, in the wire's chunk list, the views of `buffer` by copies: into `spare` when it
 * is big enough and no chunk uses it, else into a new buffer. Returns the buffer to keep as
 * the spare.
 */
function detachChunks(wire: WireInternals, buffer: ArrayBufferLike, spare: Uint8Array | undefined) {
  const chunks = wire._buffer;
  let bytes = 0;
  let spareInUse = false;
  for (const chunk of chunks) {
    if (chunk.buffer === buffer) bytes += chunk.length;
    else if (spare && chunk.buffer === spare.buffer) spareInUse = true;
  }
  if (bytes === 0) return spare;
  // Never smaller than a block: a straddling block's head (the usual tail) always fits.
  const into =
    !spareInUse && spare && spare.length >= bytes ? spare : new Uint8Array(Math.max(bytes, 1 << 14));
  let offset = 0;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i] as Uint8Array;
    if (chunk.buffer !== buffer) continue;
    into.set(chunk, offset);
    chunks[i] = into.subarray(offset, offset + chunk.length);
    offset += chunk.length;
  }
  return spareInUse ? spare : into;
}

/**
 * Message ids whose handlers in bittorrent-protocol only read numbers out of the message and
 * keep no reference to it: choke … uninterested, have, request, cancel, port, and the fast
 * extension's. (Bitfield, extended and unknown messages are kept or decoded into views.)
 */
const KEEPS_NOTHING = new Set([0, 1, 2, 3, 4, 6, 8, 9, 0x0d, 0x0e, 0x0f, 0x10, 0x11]);

/** Whether the next message's consumer keeps no reference to it (a view of reused memory is safe). */
function keepsNothing(wire: WireInternals, pieceCopied: boolean): boolean {
  if (wire._parser === wire._onMessageLength) return true;
  if (wire._parser !== wire._onMessage) return false; // the handshake's parsers
  const id = wire._buffer[0]?.[0];
  return id === PIECE_MESSAGE ? pieceCopied : id !== undefined && KEEPS_NOTHING.has(id);
}

function install(wire: WireInternals, reuseBlockBuffer: boolean, parseEnd: () => void): void {
  const original = wire._write.bind(wire);
  // 16 KiB block + 9 bytes of header; a larger piece message gets a buffer of its own.
  const scratch = reuseBlockBuffer ? new Uint8Array((1 << 14) + 9) : undefined;
  /** where unparsed bytes of a reused read buffer are copied, reused while none of them is in it */
  let spare: Uint8Array | undefined;
  const input: WireInput = {
    parse(data, reused = false) {
      wire._buffer.push(data);
      wire._bufferSize += data.length;
      const volatile = reused ? data.buffer : undefined;
      try {
        while (wire._bufferSize >= wire._parserSize && isPlain(wire)) {
          const size = wire._parserSize;
          if (size === 0) {
            wire._parser(new Uint8Array());
            continue;
          }
          const safe = volatile === undefined || keepsNothing(wire, reuseBlockBuffer);
          let message = take(wire, size, scratch && pieceMessageNext(wire) ? scratch : undefined);
          if (!safe && (message.buffer === volatile || message.buffer === spare?.buffer)) {
            message = message.slice();
          }
          wire._parser(message);
        }
      } finally {
        parseEnd();
        if (volatile) spare = detachChunks(wire, volatile, spare);
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
    install(internals, opts.reuseBlockBuffer, () => parseEnds.get(torrent)?.());
  });
}
