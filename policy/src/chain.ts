// Certificate path validation: from the signer up to a self-signed trust anchor, each link
// signed by a CA allowed to sign certificates, every certificate valid at the signing time
// AND now, and none revoked by a current CRL of its issuer.

import type { Certificate } from './certificate.js';
import { checkCrl } from './crl.js';
import { TrustError } from './errors.js';
import { canonicalNameFromDer } from './names.js';
import type { TrustAnchors } from './trust-anchors.js';

const MAX_CHAIN_LENGTH = 8;

export interface ChainTimes {
  signingTime: Date;
  now: Date;
}

function isTrustedRoot(cert: Certificate, anchors: TrustAnchors): boolean {
  return anchors.roots.some((root) => root.der.equals(cert.der));
}

function findIssuer(
  cert: Certificate,
  anchors: TrustAnchors,
  supplied: Certificate[],
): Certificate | undefined {
  const issuerKey = canonicalNameFromDer(cert.issuerDer).toString('hex');
  const candidates = [
    ...(anchors.bySubject.get(issuerKey) ?? []),
    ...supplied.filter((c) => canonicalNameFromDer(c.subjectDer).toString('hex') === issuerKey),
  ];
  return candidates.find(
    (candidate) => !candidate.der.equals(cert.der) && cert.x509.verify(candidate.publicKey),
  );
}

function checkValidity(cert: Certificate, at: Date, label: string): void {
  if (at.getTime() < cert.notBefore.getTime()) {
    throw new TrustError(
      'CERT_NOT_YET_VALID',
      `certificate ${cert.subject} is not valid before ${cert.notBefore.toISOString()} (checked ${label} ${at.toISOString()})`,
    );
  }
  if (at.getTime() > cert.notAfter.getTime()) {
    throw new TrustError(
      'CERT_EXPIRED',
      `certificate ${cert.subject} expired at ${cert.notAfter.toISOString()} (checked ${label} ${at.toISOString()})`,
    );
  }
}

function checkRevocation(cert: Certificate, issuer: Certificate, anchors: TrustAnchors, now: Date): void {
  const crls = anchors.crlsByIssuer.get(canonicalNameFromDer(issuer.subjectDer).toString('hex')) ?? [];
  if (crls.length === 0) {
    if (anchors.crlPolicy === 'require') {
      throw new TrustError('CRL_MISSING', `no CRL from ${issuer.subject} to check ${cert.subject}`);
    }
    return;
  }
  for (const crl of crls) {
    checkCrl(crl, issuer, now);
    if (crl.revokedSerials.has(cert.serialHex)) {
      throw new TrustError(
        'CERT_REVOKED',
        `certificate ${cert.subject} (serial ${cert.serialHex}) is revoked by ${issuer.subject}`,
      );
    }
  }
}

/** Returns the validated path, signer first and trust anchor last; throws a TrustError otherwise. */
export function validateChain(
  leaf: Certificate,
  supplied: Certificate[],
  anchors: TrustAnchors,
  times: ChainTimes,
): Certificate[] {
  const path = [leaf];
  let current = leaf;
  while (!isTrustedRoot(current, anchors)) {
    if (path.length >= MAX_CHAIN_LENGTH)
      throw new TrustError('CERT_UNTRUSTED', `certificate chain of ${leaf.subject} is too long`);
    const issuer = findIssuer(current, anchors, supplied);
    if (!issuer) {
      throw new TrustError(
        'CERT_UNTRUSTED',
        `no trusted issuer ${current.issuer} for certificate ${current.subject}`,
      );
    }
    if (!issuer.isCA || (issuer.keyUsage && !issuer.keyUsage.keyCertSign)) {
      throw new TrustError('CERT_UNTRUSTED', `${issuer.subject} is not a CA allowed to sign certificates`);
    }
    path.push(issuer);
    current = issuer;
  }
  for (const cert of path) {
    checkValidity(cert, times.signingTime, 'at signing time');
    checkValidity(cert, times.now, 'now');
  }
  for (let i = 0; i < path.length - 1; i++) {
    checkRevocation(path[i] as Certificate, path[i + 1] as Certificate, anchors, times.now);
  }
  return path;
}
