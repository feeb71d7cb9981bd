// X.509 names: readable slash-form text (/DC=org/CN=Alice, the grid convention), and the
// canonical encoding OpenSSL uses for comparison and for CApath hashes (<hash>.0). Two
// names are the same identity when their canonical encodings are equal.

import { createHash } from 'node:crypto';
import { content, DerReader, encodeOid, encodeTlv, type Tlv, whole } from './der.js';
import { TrustError } from './errors.js';

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.17': 'postalCode',
  '2.5.4.41': 'name',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};
const OIDS: Record<string, string> = Object.fromEntries(
  Object.entries(SHORT_NAMES).map(([oid, name]) => [name.toLowerCase(), oid]),
);
OIDS.email = '1.2.840.113549.1.9.1';
OIDS.e = '1.2.840.113549.1.9.1';
OIDS.userid = '0.9.2342.19200300.100.1.1';

interface Ava {
  oid: string;
  /** Value as text when it is a string type; undefined for other ASN.1 types. */
  text: string | undefined;
  /** The value's original DER (used as-is in the canonical form when it is not a string). */
  valueDer: Buffer;
}

const STRING_TAGS = new Set([0x0c, 0x13, 0x14, 0x16, 0x1c, 0x1e]);

function decodeString(tlv: Tlv): string | undefined {
  const body = content(tlv);
  switch (tlv.tag) {
    case 0x0c: // UTF8String
      return body.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // T61String, read as Latin-1 as OpenSSL does
      return body.toString('latin1');
    case 0x1e: // BMPString (UCS-2 big endian)
      return Buffer.from(body).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString (UCS-4 big endian)
      let s = '';
      for (let i = 0; i + 3 < body.length; i += 4) s += String.fromCodePoint(body.readUInt32BE(i));
      return s;
    }
    default:
      return undefined;
  }
}

/** The RDNs of a DER Name, each a list of attribute/value pairs. */
export function readName(nameDer: Buffer): Ava[][] {
  const r: DerReader = new DerReader(nameDer, 'CERT_MALFORMED', 'name');
  const seq = r.expect(r.root(), 0x30, 'Name SEQUENCE');
  return r.children(seq).map((rdn) => {
    r.expect(rdn, 0x31, 'RDN SET');
    return r.children(rdn).map((ava) => {
      const [type, value] = r.children(r.expect(ava, 0x30, 'AttributeTypeAndValue'));
      if (!value) r.fail('attribute without a value');
      const text = STRING_TAGS.has(value.tag) ? decodeString(value) : undefined;
      return { oid: r.oid(type, 'attribute type'), text, valueDer: whole(value) };
    });
  });
}

export function nameToText(nameDer: Buffer): string {
  return readName(nameDer)
    .map((rdn) =>
      rdn
        .map((ava) => `${SHORT_NAMES[ava.oid] ?? ava.oid}=${ava.text ?? `#${ava.valueDer.toString('hex')}`}`)
        .join('+'),
    )
    .map((s) => `/${s}`)
    .join('');
}

/** Parses slash form (/DC=org/DC=example/CN=Alice). A '/' inside a value is kept when the
 * text after it is not "ATTR=" (as in CN=host/node1.example.org). */
export function parseSlashDn(dn: string): Ava[][] {
  if (!dn.startsWith('/')) throw new TrustError('SCHEMA_INVALID', `DN must be in slash form: ${dn}`);
  const parts = dn.slice(1).split(/\/(?=[A-Za-z][A-Za-z0-9.]*=)/);
  return parts.map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new TrustError('SCHEMA_INVALID', `DN component without "=": ${part} in ${dn}`);
    const key = part.slice(0, eq);
    const oid = /^\d+(\.\d+)+$/.test(key) ? key : OIDS[key.toLowerCase()];
    if (!oid) throw new TrustError('SCHEMA_INVALID', `unknown DN attribute ${key} in ${dn}`);
    const text = part.slice(eq + 1);
    return [{ oid, text, valueDer: encodeTlv(0x0c, Buffer.from(text, 'utf8')) }];
  });
}

// OpenSSL's asn1_string_canon: trim, fold runs of white space to one space, lower-case ASCII.
function canonicalText(s: string): string {
  return s
    .replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, '')
    .replace(/[ \t\n\r\f\v]+/g, ' ')
    .replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function canonicalEncoding(rdns: Ava[][]): Buffer {
  return Buffer.concat(
    rdns.map((rdn) => {
      const avas = rdn
        .map((ava) => {
          const value =
            ava.text === undefined
              ? ava.valueDer
              : encodeTlv(0x0c, Buffer.from(canonicalText(ava.text), 'utf8'));
          return encodeTlv(0x30, Buffer.concat([encodeOid(ava.oid), value]));
        })
        .sort(Buffer.compare);
      return encodeTlv(0x31, Buffer.concat(avas));
    }),
  );
}

export function canonicalNameFromDer(nameDer: Buffer): Buffer {
  return canonicalEncoding(readName(nameDer));
}

export function canonicalNameFromText(dn: string): Buffer {
  return canonicalEncoding(parseSlashDn(dn));
}

/** OpenSSL's X509_NAME_hash (the <hash> of CApath file names). */
export function opensslNameHash(nameDer: Buffer): string {
  const digest = createHash('sha1').update(canonicalNameFromDer(nameDer)).digest();
  return digest.readUInt32LE(0).toString(16).padStart(8, '0');
}
