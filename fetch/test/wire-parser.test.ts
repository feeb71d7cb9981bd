// wire-parser.ts on bittorrent-protocol's real Wire: messages split across socket reads at
// every possible place are parsed exactly as sent, a message inside one read is handed on
// without a copy, and with reuseBlockBuffer the blocks that straddle reads share one buffer
// per wire (the consumer copies them before the next one is parsed). Reads from a buffer that
// is overwritten after each parse (socket-input.ts's reused read buffer) are parsed exactly
// as sent too: what stays unparsed is copied, a bitfield the wire keeps is copied, a block is
// a view of the read only for a consumer that copies it, and onParseEnd runs before the parse
// returns, while such views still hold their block.

import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Torrent, Wire } from 'webtorrent';
import { lessCopyingWires, onParseEnd, wireInput } from '../src/transfer/wire-parser.js';

// bittorrent-protocol is webtorrent's dependency, not ours: load the copy webtorrent uses.
const webtorrentDir = dirname(fileURLToPath(import.meta.resolve('webtorrent')));
const { default: WireClass } = (await import(
  pathToFileURL(join(webtorrentDir, '..', 'bittorrent-protocol', 'index.js')).href
)) as { default: new () => Wire };

const BLOCK = 16 * 1024;

function handshake(): Uint8Array {
  const out = new Uint8Array(68);
  out[0] = 19;
  out.set(new TextEncoder().encode('BitTorrent protocol'), 1);
  out.fill(0xab, 28, 48); // info hash
  out.fill(0xcd, 48, 68); // peer id
  return out;
}

function pieceMessage(index: number, begin: number, fill: number): Uint8Array {
  const out = new Uint8Array(13 + BLOCK);
  const view = new DataView(out.buffer);
  view.setUint32(0, 9 + BLOCK);
  out[4] = 7;
  view.setUint32(5, index);
  view.setUint32(9, begin);
  out.fill(fill, 13);
  return out;
}

function haveMessage(index: number): Uint8Array {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  view.setUint32(0, 5);
  out[4] = 4;
  view.setUint32(5, index);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A Wire patched by lessCopyingWires, fed `stream` in reads of `readSize` bytes. */
async function parse(stream: Uint8Array, readSize: number, reuseBlockBuffer: boolean) {
  const torrent = new EventEmitter() as unknown as Torrent;
  lessCopyingWires(torrent, { reuseBlockBuffer });
  const wire = new WireClass();
  torrent.emit('wire', wire);
  const blocks: Array<{ index: number; begin: number; data: Uint8Array; view: Uint8Array }> = [];
  const haves: number[] = [];
  wire.on('handshake', () => {});
  wire.on('piece', (index: number, begin: number, data: Uint8Array) =>
    blocks.push({ index, begin, data: data.slice(), view: data }),
  );
  wire.on('have', (index: number) => haves.push(index));
  const write = (wire as unknown as { _write(d: Uint8Array, cb: (e: Error | null) => void): void })._write;
  for (let offset = 0; offset < stream.length; offset += readSize) {
    // a read of its own, as a socket delivers it
    const read = stream.slice(offset, offset + readSize);
    await new Promise<void>((resolve, reject) => write(read, (err) => (err ? reject(err) : resolve())));
  }
  wire.destroy();
  return { blocks, haves };
}

const stream = concat([
  handshake(),
  pieceMessage(1, 0, 1),
  haveMessage(7),
  pieceMessage(1, BLOCK, 2),
  pieceMessage(2, 0, 3),
  haveMessage(8),
  pieceMessage(2, BLOCK, 4),
]);

describe('lessCopyingWires', () => {
  it.each([
    [1000, false],
    [1000, true],
    [BLOCK + 5, true],
    [64 * 1024, true],
    [stream.length, true],
  ])('parses every message as sent (reads of %i bytes, reuseBlockBuffer %s)', async (readSize, reuse) => {
    const { blocks, haves } = await parse(stream, readSize, reuse);
    expect(haves).toEqual([7, 8]);
    expect(blocks.map((b) => [b.index, b.begin, b.data.length])).toEqual([
      [1, 0, BLOCK],
      [1, BLOCK, BLOCK],
      [2, 0, BLOCK],
      [2, BLOCK, BLOCK],
    ]);
    blocks.forEach((b, i) => {
      expect(b.data.every((x) => x === i + 1)).toBe(true);
    });
  });

  it('hands on a block inside one read as a view of that read, without a copy', async () => {
    const { blocks } = await parse(stream, stream.length, true);
    const buffers = new Set(blocks.map((b) => b.view.buffer));
    expect(buffers.size).toBe(1);
  });

  it('gathers blocks that straddle reads in one reused buffer per wire, only when asked', async () => {
    const reused = await parse(stream, 1000, true);
    expect(new Set(reused.blocks.map((b) => b.view.buffer)).size).toBe(1);
    const fresh = await parse(stream, 1000, false);
    expect(new Set(fresh.blocks.map((b) => b.view.buffer)).size).toBe(4);
  });
});

function bitfieldMessage(bits: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + bits.length);
  new DataView(out.buffer).setUint32(0, 1 + bits.length);
  out[4] = 5;
  out.set(bits, 5);
  return out;
}

/**
 * A patched Wire fed `stream` through one read buffer of `readSize` bytes, overwritten with
 * 0xee after each parse (as the next socket read overwrites it).
 */
function parseReused(stream: Uint8Array, readSize: number, reuseBlockBuffer: boolean) {
  const torrent = new EventEmitter() as unknown as Torrent;
  lessCopyingWires(torrent, { reuseBlockBuffer });
  const wire = new WireClass();
  torrent.emit('wire', wire);
  const input = wireInput(wire);
  if (!input) throw new Error('wire-parser not installed');
  const readBuffer = new Uint8Array(readSize);
  const blocks: Array<{ index: number; begin: number; data: Uint8Array; view: Uint8Array }> = [];
  const haves: number[] = [];
  let parseEnds = 0;
  let intactAtParseEnd = true;
  let checked = 0;
  onParseEnd(torrent, () => {
    parseEnds++;
    // the blocks handed on during this parse still hold what was sent
    for (const b of blocks.slice(checked)) intactAtParseEnd &&= b.view.every((x, i) => x === b.data[i]);
    checked = blocks.length;
  });
  wire.on('piece', (index: number, begin: number, data: Uint8Array) =>
    blocks.push({ index, begin, data: data.slice(), view: data }),
  );
  wire.on('have', (index: number) => haves.push(index));
  let reads = 0;
  for (let offset = 0; offset < stream.length; offset += readSize) {
    const n = Math.min(readSize, stream.length - offset);
    readBuffer.set(stream.subarray(offset, offset + n));
    input.parse(readBuffer.subarray(0, n), true);
    readBuffer.fill(0xee);
    reads++;
  }
  return { wire, blocks, haves, reads, parseEnds, intactAtParseEnd, readBuffer };
}

describe('lessCopyingWires, reads from a reused buffer', () => {
  it.each([7, 1000, BLOCK + 5, 64 * 1024])('parses every message as sent (reads of %i bytes)', (readSize) => {
    const r = parseReused(stream, readSize, true);
    expect(r.haves).toEqual([7, 8]);
    expect(r.blocks.map((b) => [b.index, b.begin, b.data.length])).toEqual([
      [1, 0, BLOCK],
      [1, BLOCK, BLOCK],
      [2, 0, BLOCK],
      [2, BLOCK, BLOCK],
    ]);
    r.blocks.forEach((b, i) => {
      expect(b.data.every((x) => x === i + 1)).toBe(true);
    });
    expect(r.parseEnds).toBe(r.reads);
    expect(r.intactAtParseEnd).toBe(true);
    r.wire.destroy();
  });

  it('hands a block on as a view of the read only when its consumer copies it (reuseBlockBuffer)', () => {
    const copying = parseReused(stream, stream.length, true);
    expect(copying.blocks.every((b) => b.view.buffer === copying.readBuffer.buffer)).toBe(true);
    const keeping = parseReused(stream, stream.length, false);
    expect(keeping.blocks.some((b) => b.view.buffer === keeping.readBuffer.buffer)).toBe(false);
    // what webtorrent's own path keeps is intact after the buffer was overwritten
    keeping.blocks.forEach((b, i) => {
      expect(b.view.every((x) => x === i + 1)).toBe(true);
    });
    copying.wire.destroy();
    keeping.wire.destroy();
  });

  it('copies a bitfield, which the wire keeps, off the read buffer', () => {
    const bits = new Uint8Array([0b1010_0000, 0b0000_0001]);
    const withBitfield = concat([handshake(), bitfieldMessage(bits), haveMessage(3)]);
    for (const readSize of [withBitfield.length, 70, 3]) {
      const r = parseReused(withBitfield, readSize, true);
      const peerPieces = (r.wire as unknown as { peerPieces: { get(i: number): boolean } }).peerPieces;
      const got = Array.from({ length: 16 }, (_, i) => peerPieces.get(i));
      const sent = Array.from({ length: 16 }, (_, i) => i === 0 || i === 2 || i === 3 || i === 15);
      expect(got).toEqual(sent);
      r.wire.destroy();
    }
  });
});
