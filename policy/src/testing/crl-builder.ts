// Builds signed X.509 v2 CRLs for test CAs (node-forge cannot): DER by hand, signed with
// node:crypto, in the form `openssl ca -gencrl` writes.

import { type KeyObject, sign } from 'node:crypto';
import { encodeOid, encodeTlv } from '../der.js';

function utcTime(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-22T10:00:00.000Z
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return encodeTlv(0x17, Buffer.from(text, 'latin1'));
}

function integer(hex: string): Buffer {
  let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return encodeTlv(0x02, bytes);
}

const SHA256_WITH_RSA = encodeTlv(
  0x30,
  Buffer.concat([encodeOid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00])]),
);

export interface CrlSpec {
  issuerNameDer: Buffer;
  issuerKey: KeyObject;
  revoked: Array<{ serialHex: string; revokedAt: Date }>;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
}

export function buildCrl(spec: CrlSpec): Buffer {
  const revoked = spec.revoked.map((r) =>
    encodeTlv(0x30, Buffer.concat([integer(r.serialHex), utcTime(r.revokedAt)])),
  );
  const crlNumberExt = encodeTlv(
    0x30,
    Buffer.concat([encodeOid('2.5.29.20'), encodeTlv(0x04, integer(spec.crlNumber.toString(16)))]),
  );
  const tbs = encodeTlv(
    0x30,
    Buffer.concat([
      integer('1'), // v2
      SHA256_WITH_RSA,
      spec.issuerNameDer,
      utcTime(spec.thisUpdate),
      utcTime(spec.nextUpdate),
      ...(revoked.length ? [encodeTlv(0x30, Buffer.concat(revoked))] : []),
      encodeTlv(0xa0, encodeTlv(0x30, crlNumberExt)),
    ]),
  );
  const signature = sign('sha256', tbs, spec.issuerKey);
  return encodeTlv(
    0x30,
    Buffer.concat([tbs, SHA256_WITH_RSA, encodeTlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]),
  );
}
