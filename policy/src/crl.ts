// Certificate revocation lists: parsed from DER/PEM, signature checked against the issuing
// CA's key before a single serial is trusted, and refused when past nextUpdate.

import { verify } from 'node:crypto';
import { signatureDigest } from './algorithms.js';
import type { Certificate } from './certificate.js';
import { pemToDerList } from './certificate.js';
import { content, DerReader, integerHex, whole } from './der.js';
import { TrustError } from './errors.js';
import { canonicalNameFromDer, nameToText } from './names.js';

export interface Crl {
  der: Buffer;
  issuer: string;
  issuerCanonical: string;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  revokedSerials: Set<string>;
  tbs: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
  /** Certificates whose key has already verified this CRL's signature (sha256 of DER). */
  verifiedBy: Set<string>;
}

export function parseCrlDer(derInput: Buffer): Crl {
  const der = Buffer.from(derInput);
  const r: DerReader = new DerReader(der, 'CRL_INVALID', 'CRL');
  const [tbsTlv, algTlv, sigTlv] = r.children(r.expect(r.root(), 0x30, 'CertificateList'));
  const tbs = r.expect(tbsTlv, 0x30, 'TBSCertList');
  const fields = r.children(tbs);
  let i = fields[0]?.tag === 0x02 ? 1 : 0; // optional version
  i++; // inner signature algorithm; must match the outer one
  const issuerTlv = r.expect(fields[i++], 0x30, 'issuer');
  const thisUpdate = r.time(fields[i++], 'thisUpdate');
  let nextUpdate: Date | undefined;
  const maybeNext = fields[i];
  if (maybeNext && (maybeNext.tag === 0x17 || maybeNext.tag === 0x18)) {
    nextUpdate = r.time(maybeNext, 'nextUpdate');
    i++;
  }
  const revokedSerials = new Set<string>();
  const revoked = fields[i];
  if (revoked && revoked.tag === 0x30) {
    for (const entry of r.children(revoked)) {
      const [serial] = r.children(r.expect(entry, 0x30, 'revoked certificate'));
      revokedSerials.add(integerHex(r.expect(serial, 0x02, 'revoked serial')));
    }
  }
  const [algOid] = r.children(r.expect(algTlv, 0x30, 'signatureAlgorithm'));
  const sigBits = content(r.expect(sigTlv, 0x03, 'signatureValue'));
  const issuerDer = Buffer.from(whole(issuerTlv));
  return {
    der,
    issuer: nameToText(issuerDer),
    issuerCanonical: canonicalNameFromDer(issuerDer).toString('hex'),
    thisUpdate,
    nextUpdate,
    revokedSerials,
    tbs: Buffer.from(whole(tbs)),
    signatureAlgorithm: r.oid(algOid, 'signature algorithm'),
    signature: Buffer.from(sigBits.subarray(1)),
    verifiedBy: new Set(),
  };
}

export function loadCrls(input: string | Buffer): Crl[] {
  const text = typeof input === 'string' ? input : input.toString('latin1');
  if (text.includes('-----BEGIN X509 CRL-----')) return pemToDerList(text, 'X509 CRL').map(parseCrlDer);
  return [parseCrlDer(typeof input === 'string' ? Buffer.from(input, 'latin1') : input)];
}

/** Throws unless the CRL is signed by `issuer` and still current at `now`. */
export function checkCrl(crl: Crl, issuer: Certificate, now: Date): void {
  if (!crl.verifiedBy.has(issuer.sha256)) {
    const digest = signatureDigest(crl.signatureAlgorithm, undefined, `CRL of ${crl.issuer}`);
    if (issuer.keyUsage && !issuer.keyUsage.cRLSign) {
      throw new TrustError('CRL_INVALID', `CRL issuer ${issuer.subject} may not sign CRLs (keyUsage)`);
    }
    if (!verify(digest, crl.tbs, issuer.publicKey, crl.signature)) {
      throw new TrustError(
        'CRL_INVALID',
        `CRL of ${crl.issuer}: signature does not verify with the CA's key`,
      );
    }
    crl.verifiedBy.add(issuer.sha256);
  }
  if (crl.thisUpdate.getTime() > now.getTime() + 5 * 60_000) {
    throw new TrustError(
      'CRL_INVALID',
      `CRL of ${crl.issuer} is not yet valid (thisUpdate ${crl.thisUpdate.toISOString()})`,
    );
  }
  if (crl.nextUpdate && crl.nextUpdate.getTime() < now.getTime()) {
    throw new TrustError('CRL_EXPIRED', `CRL of ${crl.issuer} expired at ${crl.nextUpdate.toISOString()}`);
  }
}
