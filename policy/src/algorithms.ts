// The digest and signature algorithms the trust core accepts. Anything else (MD5, SHA-1,
// RSA-PSS, unknown OIDs) is refused: fail closed rather than guess.

import { TrustError } from './errors.js';

export type DigestName = 'sha256' | 'sha384' | 'sha512';

const DIGESTS: Record<string, DigestName> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Signature algorithm OID → the digest it implies (undefined: the key type alone, e.g. rsaEncryption). */
const SIGNATURES: Record<string, DigestName | undefined> = {
  '1.2.840.113549.1.1.1': undefined, // rsaEncryption (digest from the SignerInfo)
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

export function digestForOid(oid: string, what: string): DigestName {
  const name = DIGESTS[oid];
  if (!name)
    throw new TrustError('UNSUPPORTED_ALGORITHM', `${what}: digest algorithm ${oid} is not accepted`);
  return name;
}

export function signatureDigest(oid: string, fallback: DigestName | undefined, what: string): DigestName {
  if (!(oid in SIGNATURES)) {
    throw new TrustError('UNSUPPORTED_ALGORITHM', `${what}: signature algorithm ${oid} is not accepted`);
  }
  const implied = SIGNATURES[oid] ?? fallback;
  if (!implied)
    throw new TrustError('UNSUPPORTED_ALGORITHM', `${what}: no digest for signature algorithm ${oid}`);
  if (fallback && SIGNATURES[oid] && SIGNATURES[oid] !== fallback) {
    throw new TrustError(
      'UNSUPPORTED_ALGORITHM',
      `${what}: signature algorithm ${oid} disagrees with digest ${fallback}`,
    );
  }
  return implied;
}
