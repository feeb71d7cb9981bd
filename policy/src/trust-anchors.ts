// The CAs a verifier trusts: a CApath directory as in /etc/grid-security/certificates
// (<hash>.N certificates, <hash>.rN CRLs) or a PEM bundle. Only self-signed certificates
// found here end a chain; other CA certificates here serve as known intermediates.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Certificate, loadCertificates } from './certificate.js';
import { type Crl, loadCrls } from './crl.js';
import { TrustError } from './errors.js';
import { canonicalNameFromDer } from './names.js';

export type CrlPolicy = 'require' | 'if-present';

export interface TrustAnchorSource {
  caPath?: string;
  bundlePem?: string | Buffer;
  crlPem?: Array<string | Buffer>;
  /** 'require' (default): every certificate below a root needs a current CRL from its issuer. */
  crlPolicy?: CrlPolicy;
}

export interface TrustAnchors {
  roots: Certificate[];
  intermediates: Certificate[];
  crls: Crl[];
  crlPolicy: CrlPolicy;
  /** Certificates by canonical subject (hex), roots and intermediates together. */
  bySubject: Map<string, Certificate[]>;
  /** CRLs by canonical issuer (hex). */
  crlsByIssuer: Map<string, Crl[]>;
}

const CERT_FILE = /^[0-9a-f]{8}\.\d+$/;
const CRL_FILE = /^[0-9a-f]{8}\.r\d+$/;

function readCaPath(dir: string): { certs: Certificate[]; crls: Crl[] } {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new TrustError(
      'TRUST_ANCHORS_INVALID',
      `cannot read CA directory ${dir}: ${(err as Error).message}`,
    );
  }
  const certs: Certificate[] = [];
  const crls: Crl[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (CERT_FILE.test(name)) certs.push(...loadCertificates(readFileSync(path)));
      else if (CRL_FILE.test(name)) crls.push(...loadCrls(readFileSync(path)));
    } catch (err) {
      throw new TrustError('TRUST_ANCHORS_INVALID', `${path}: ${(err as Error).message}`);
    }
  }
  return { certs, crls };
}

export function buildTrustAnchors(
  certs: Certificate[],
  crls: Crl[],
  crlPolicy: CrlPolicy = 'require',
): TrustAnchors {
  const unique = new Map(certs.map((c) => [c.sha256, c]));
  const all = [...unique.values()];
  const roots = all.filter((c) => c.selfIssued && c.x509.verify(c.publicKey));
  if (roots.length === 0)
    throw new TrustError('TRUST_ANCHORS_INVALID', 'no self-signed CA certificate among the trust anchors');
  const bySubject = new Map<string, Certificate[]>();
  for (const cert of all) {
    const key = canonicalNameFromDer(cert.subjectDer).toString('hex');
    bySubject.set(key, [...(bySubject.get(key) ?? []), cert]);
  }
  const crlsByIssuer = new Map<string, Crl[]>();
  for (const crl of crls)
    crlsByIssuer.set(crl.issuerCanonical, [...(crlsByIssuer.get(crl.issuerCanonical) ?? []), crl]);
  return {
    roots,
    intermediates: all.filter((c) => !roots.includes(c)),
    crls,
    crlPolicy,
    bySubject,
    crlsByIssuer,
  };
}

export function loadTrustAnchors(source: TrustAnchorSource): TrustAnchors {
  const certs: Certificate[] = [];
  const crls: Crl[] = [];
  if (source.caPath) {
    const found = readCaPath(source.caPath);
    certs.push(...found.certs);
    crls.push(...found.crls);
  }
  if (source.bundlePem) {
    certs.push(...loadCertificates(source.bundlePem));
    const text = source.bundlePem.toString();
    if (text.includes('-----BEGIN X509 CRL-----')) crls.push(...loadCrls(text));
  }
  for (const pem of source.crlPem ?? []) crls.push(...loadCrls(pem));
  if (!source.caPath && !source.bundlePem) {
    throw new TrustError(
      'TRUST_ANCHORS_INVALID',
      'no trust anchors given (need a CA directory or a PEM bundle)',
    );
  }
  return buildTrustAnchors(certs, crls, source.crlPolicy ?? 'require');
}
