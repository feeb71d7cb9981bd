// A minimal DER reader that keeps offsets into the original bytes. Verification hashes
// exactly the bytes that were signed (signed attributes, TBS structures) instead of a
// re-encoding, so no encoder quirk can change what is checked.

import forge from 'node-forge';
import { TrustError, type TrustErrorCode } from './errors.js';

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the last content byte. */
  end: number;
  bytes: Buffer;
}

export class DerReader {
  constructor(
    readonly buf: Buffer,
    private readonly errorCode: TrustErrorCode,
    private readonly what: string,
  ) {}

  fail(message: string): never {
    throw new TrustError(this.errorCode, `${this.what}: ${message}`);
  }

  read(offset: number, limit = this.buf.length): Tlv {
    const buf = this.buf;
    if (offset + 2 > limit) this.fail('truncated DER');
    const tag = buf[offset] as number;
    if ((tag & 0x1f) === 0x1f) this.fail('multi-byte DER tags are not supported');
    let lenByte = buf[offset + 1] as number;
    let pos = offset + 2;
    let length: number;
    if (lenByte < 0x80) {
      length = lenByte;
    } else {
      lenByte &= 0x7f;
      if (lenByte === 0 || lenByte > 4) this.fail('indefinite or oversized DER length');
      if (pos + lenByte > limit) this.fail('truncated DER length');
      length = 0;
      for (let i = 0; i < lenByte; i++) length = length * 256 + (buf[pos + i] as number);
      pos += lenByte;
    }
    if (pos + length > limit) this.fail('DER length runs past the end');
    return { tag, start: offset, contentStart: pos, end: pos + length, bytes: buf };
  }

  /** The top-level element, which must span the whole buffer. */
  root(): Tlv {
    const tlv = this.read(0);
    if (tlv.end !== this.buf.length) this.fail('trailing bytes after DER');
    return tlv;
  }

  children(parent: Tlv): Tlv[] {
    const out: Tlv[] = [];
    let offset = parent.contentStart;
    while (offset < parent.end) {
      const child = this.read(offset, parent.end);
      out.push(child);
      offset = child.end;
    }
    return out;
  }

  expect(tlv: Tlv | undefined, tag: number, field: string): Tlv {
    if (!tlv || tlv.tag !== tag) this.fail(`expected ${field}`);
    return tlv;
  }

  oid(tlv: Tlv | undefined, field: string): string {
    const t = this.expect(tlv, 0x06, field);
    return forge.asn1.derToOid(forge.util.createBuffer(content(t).toString('binary')));
  }

  time(tlv: Tlv | undefined, field: string): Date {
    if (!tlv || (tlv.tag !== 0x17 && tlv.tag !== 0x18)) this.fail(`expected ${field} as a time`);
    const text = content(tlv).toString('latin1');
    const date = tlv.tag === 0x17 ? forge.asn1.utcTimeToDate(text) : forge.asn1.generalizedTimeToDate(text);
    if (Number.isNaN(date.getTime())) this.fail(`${field} is not a valid time`);
    return date;
  }
}

export function whole(tlv: Tlv): Buffer {
  return tlv.bytes.subarray(tlv.start, tlv.end);
}

export function content(tlv: Tlv): Buffer {
  return tlv.bytes.subarray(tlv.contentStart, tlv.end);
}

/** Positive integer content as lowercase hex without leading zero bytes. */
export function integerHex(tlv: Tlv): string {
  let b = content(tlv);
  while (b.length > 1 && b[0] === 0) b = b.subarray(1);
  return b.toString('hex');
}

// --- writing (only what canonical names and test fixtures need) ---

export function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function encodeTlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export function encodeOid(oid: string): Buffer {
  return encodeTlv(0x06, Buffer.from(forge.asn1.oidToDer(oid).getBytes(), 'binary'));
}
