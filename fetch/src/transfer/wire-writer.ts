// Fewer socket writes. bittorrent-protocol pushes every message to the socket on its own —
// a 17-byte request per 16 KiB block downloaded, a 13-byte header plus the 16 KiB block per
// block uploaded — so a 1 GiB transfer makes 65,536 to 131,072 write calls, each a syscall
// through the stream machinery (measured with --cpu-prof). Messages pushed in the same turn
// of the event loop are gathered and pushed as one buffer after the current microtasks
// (small ones are copied together; a large one goes out as it is, after what came before).
// Order is kept. With protocol encryption the original method runs (ciphertext is a stream).
// When socket-output.ts may write to the socket directly, the gathered messages go there as
// they are (one `writev`) instead of being copied into one buffer — but for runs of small
// messages (a leecher's requests, 17 bytes each, ~65,000 per GiB), which are copied into one
// part: a part costs a stream write call and an entry in its buffer, more than the copy.

import type { Torrent, Wire } from 'webtorrent';
import { wireOutput } from './socket-output.js';

const GATHER_LIMIT = 64 * 1024;
/** messages shorter than this are copied together when they follow each other */
const SMALL_MESSAGE = 1024;

/** `parts` with each run of two or more consecutive small parts copied into one. */
export function mergeSmallParts(parts: Uint8Array[]): Uint8Array[] {
  let out: Uint8Array[] | undefined;
  for (let i = 0; i < parts.length; ) {
    let end = i;
    let bytes = 0;
    while (end < parts.length && (parts[end] as Uint8Array).length < SMALL_MESSAGE) {
      bytes += (parts[end] as Uint8Array).length;
      end++;
    }
    if (end - i < 2) {
      out?.push(parts[i] as Uint8Array);
      i++;
      continue;
    }
    out ??= parts.slice(0, i);
    // node's pool: no backing store of its own for a few hundred bytes
    const merged = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (let j = i; j < end; j++) {
      merged.set(parts[j] as Uint8Array, offset);
      offset += (parts[j] as Uint8Array).length;
    }
    out.push(merged);
    i = end;
  }
  return out ?? parts;
}

interface WireInternals {
  _push(data: Uint8Array): unknown;
  push(data: Uint8Array): unknown;
  _finished?: boolean;
  _encryptor?: unknown;
}

function install(wire: WireInternals): void {
  const original = wire._push.bind(wire);
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const parts = pending;
    const size = pendingBytes;
    pending = [];
    pendingBytes = 0;
    if (wire._finished) return;
    const output = wireOutput(wire);
    if (output?.writeParts(parts.length > 1 ? mergeSmallParts(parts) : parts, size)) return;
    if (parts.length === 1) {
      wire.push(parts[0] as Uint8Array);
      return;
    }
    const out = new Uint8Array(size);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    wire.push(out);
  };

  wire._push = (data: Uint8Array) => {
    if (wire._finished) return undefined;
    if (wire._encryptor) {
      flush();
      return original(data);
    }
    if (pendingBytes + data.length > GATHER_LIMIT) {
      flush();
      if (data.length > GATHER_LIMIT) return wire.push(data);
    }
    pending.push(data);
    pendingBytes += data.length;
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
    return true;
  };
}

export function gatherWireWrites(torrent: Torrent): void {
  torrent.on('wire', (wire: Wire) => {
    const internals = wire as unknown as WireInternals;
    if (wire.type === 'webSeed' || typeof internals._push !== 'function') return;
    install(internals);
  });
}
