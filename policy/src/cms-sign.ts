// Detached CMS SignedData over the exact bytes of a document (node-forge), with the signed
// attributes in DER SET OF order (contentType, signingTime, messageDigest) so any OpenSSL
// re-encoding keeps the signature valid. One signer per file.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { loadCertificate } from './certificate.js';
import { TrustError } from './errors.js';

export interface SignerCredentials {
  certificatePem: string;
  /** Unencrypted PEM (PKCS#1 or PKCS#8), or a KeyObject already decrypted by the caller. */
  privateKey: string | KeyObject;
  /** Intermediate CA certificates to include, nearest first. */
  chainPem?: string[];
}

function toForgeKey(key: string | KeyObject): forge.pki.rsa.PrivateKey {
  const keyObject = typeof key === 'string' ? createPrivateKey(key) : key;
  if (keyObject.asymmetricKeyType !== 'rsa') {
    throw new TrustError(
      'UNSUPPORTED_ALGORITHM',
      `signing needs an RSA key, got ${keyObject.asymmetricKeyType}`,
    );
  }
  const pem = keyObject.export({ type: 'pkcs1', format: 'pem' }).toString();
  return forge.pki.privateKeyFromPem(pem);
}

/** Signs `content` and returns the DER of a detached CMS SignedData. */
export function signDetached(
  content: Uint8Array,
  signer: SignerCredentials,
  options: { signingTime?: Date } = {},
): Buffer {
  const certificate = loadCertificate(signer.certificatePem);
  const keyObject =
    typeof signer.privateKey === 'string' ? createPrivateKey(signer.privateKey) : signer.privateKey;
  if (!certificate.publicKey.equals(createPublicKey(keyObject))) {
    throw new TrustError(
      'SIGNATURE_INVALID',
      `private key does not match certificate ${certificate.subject}`,
    );
  }
  const p7 = forge.pkcs7.createSignedData();
  // A ByteBuffer of the raw bytes: a JS string would be re-encoded as UTF-8 by forge.
  p7.content = forge.util.createBuffer(Buffer.from(content).toString('binary'));
  const forgeCert = forge.pki.certificateFromPem(signer.certificatePem);
  p7.addCertificate(forgeCert);
  for (const pem of signer.chainPem ?? []) p7.addCertificate(forge.pki.certificateFromPem(pem));
  p7.addSigner({
    key: toForgeKey(keyObject),
    certificate: forgeCert,
    digestAlgorithm: forge.pki.oids.sha256 as string,
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType as string, value: forge.pki.oids.data as string },
      {
        type: forge.pki.oids.signingTime as string,
        value: (options.signingTime ?? new Date()) as unknown as string,
      },
      { type: forge.pki.oids.messageDigest as string },
    ],
  });
  p7.sign({ detached: true });
  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'binary');
}
