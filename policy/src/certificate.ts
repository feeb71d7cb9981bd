// An X.509 certificate as the trust core needs it: the exact DER of issuer and subject,
// validity, CA flags and key usage, plus Node's X509Certificate for key operations.

import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import { content, DerReader, integerHex, type Tlv, whole } from './der.js';
import { TrustError } from './errors.js';
import { canonicalNameFromDer, canonicalNameFromText, nameToText } from './names.js';

export interface Identity {
  issuer: string;
  subject: string;
  issuerDer: Buffer;
  subjectDer: Buffer;
  /** Canonical issuer + subject; equal keys are the same identity, whatever the text form. */
  key: string;
}

export interface Certificate {
  der: Buffer;
  pem: string;
  serialHex: string;
  issuer: string;
  subject: string;
  issuerDer: Buffer;
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  /** undefined when the certificate has no keyUsage extension (then any use is allowed). */
  keyUsage: { digitalSignature: boolean; keyCertSign: boolean; cRLSign: boolean } | undefined;
  subjectKeyId: Buffer | undefined;
  selfIssued: boolean;
  publicKey: KeyObject;
  /** sha256 of the DER, lowercase hex: names signature files and pins certificates. */
  sha256: string;
  x509: X509Certificate;
}

const OID_KEY_USAGE = '2.5.29.15';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_SUBJECT_KEY_ID = '2.5.29.14';

export function identityKey(issuerCanonical: Buffer, subjectCanonical: Buffer): string {
  return `${issuerCanonical.toString('hex')}|${subjectCanonical.toString('hex')}`;
}

export function identityOf(cert: Certificate): Identity {
  return {
    issuer: cert.issuer,
    subject: cert.subject,
    issuerDer: cert.issuerDer,
    subjectDer: cert.subjectDer,
    key: identityKey(canonicalNameFromDer(cert.issuerDer), canonicalNameFromDer(cert.subjectDer)),
  };
}

/** Identity key of a trust-list rule written as slash-form DNs. */
export function identityKeyFromText(issuer: string, subject: string): string {
  return identityKey(canonicalNameFromText(issuer), canonicalNameFromText(subject));
}

export function pemToDerList(pem: string | Buffer, label = 'CERTIFICATE'): Buffer[] {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
}

export function derToPem(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Loads one certificate from PEM or DER. */
export function loadCertificate(input: string | Buffer): Certificate {
  const isPem = typeof input === 'string' || input.subarray(0, 64).toString('latin1').includes('-----BEGIN');
  if (isPem) {
    const [der] = pemToDerList(input);
    if (!der) throw new TrustError('CERT_MALFORMED', 'no PEM certificate found');
    return parseCertificateDer(der);
  }
  return parseCertificateDer(input);
}

/** Loads every certificate of a PEM bundle, in order. */
export function loadCertificates(pem: string | Buffer): Certificate[] {
  return pemToDerList(pem).map(parseCertificateDer);
}

function parseExtensions(r: DerReader, extsWrapper: Tlv | undefined) {
  let isCA = false;
  let keyUsage: Certificate['keyUsage'];
  let subjectKeyId: Buffer | undefined;
  if (!extsWrapper) return { isCA, keyUsage, subjectKeyId };
  const [exts] = r.children(extsWrapper);
  for (const ext of r.children(r.expect(exts, 0x30, 'Extensions'))) {
    const parts = r.children(ext);
    const oid = r.oid(parts[0], 'extension id');
    const valueTlv = parts[parts.length - 1];
    const value = content(r.expect(valueTlv, 0x04, 'extension value'));
    const inner: DerReader = new DerReader(
      Buffer.from(value),
      'CERT_MALFORMED',
      `certificate extension ${oid}`,
    );
    if (oid === OID_BASIC_CONSTRAINTS) {
      const [ca] = inner.children(inner.root());
      isCA = ca?.tag === 0x01 && content(ca)[0] !== 0;
    } else if (oid === OID_KEY_USAGE) {
      const bits = content(inner.expect(inner.root(), 0x03, 'keyUsage BIT STRING'));
      const first = bits[1] ?? 0;
      keyUsage = {
        digitalSignature: (first & 0x80) !== 0,
        keyCertSign: (first & 0x04) !== 0,
        cRLSign: (first & 0x02) !== 0,
      };
    } else if (oid === OID_SUBJECT_KEY_ID) {
      subjectKeyId = Buffer.from(content(inner.expect(inner.root(), 0x04, 'subjectKeyIdentifier')));
    }
  }
  return { isCA, keyUsage, subjectKeyId };
}

export function parseCertificateDer(derInput: Buffer): Certificate {
  const der = Buffer.from(derInput);
  const r: DerReader = new DerReader(der, 'CERT_MALFORMED', 'certificate');
  const [tbs] = r.children(r.expect(r.root(), 0x30, 'Certificate SEQUENCE'));
  const fields = r.children(r.expect(tbs, 0x30, 'TBSCertificate'));
  let i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = r.expect(fields[i++], 0x02, 'serialNumber');
  i++; // signature algorithm, checked by Node when verifying
  const issuerDer = Buffer.from(whole(r.expect(fields[i++], 0x30, 'issuer')));
  const validity = r.children(r.expect(fields[i++], 0x30, 'validity'));
  const subjectDer = Buffer.from(whole(r.expect(fields[i++], 0x30, 'subject')));
  const extsWrapper = fields.find((f) => f.tag === 0xa3);
  const { isCA, keyUsage, subjectKeyId } = parseExtensions(r, extsWrapper);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (err) {
    throw new TrustError('CERT_MALFORMED', `certificate: ${(err as Error).message}`);
  }
  return {
    der,
    pem: derToPem(der),
    serialHex: integerHex(serial),
    issuer: nameToText(issuerDer),
    subject: nameToText(subjectDer),
    issuerDer,
    subjectDer,
    notBefore: r.time(validity[0], 'notBefore'),
    notAfter: r.time(validity[1], 'notAfter'),
    isCA,
    keyUsage,
    subjectKeyId,
    selfIssued: issuerDer.equals(subjectDer),
    publicKey: x509.publicKey,
    sha256: createHash('sha256').update(der).digest('hex'),
    x509,
  };
}
