// Key material of a repository: master key (signs the whitelist), repository key and its
// self-signed certificate (signs the manifest). Private keys are written 0600 via temp+rename.
import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { fingerprintOfDer } from '../format/whitelist.js';

export interface RepositoryKeys {
  readonly masterPrivateKeyPem: string;
  readonly masterPublicKeyPem: string;
  readonly repoPrivateKeyPem: string;
  readonly certificatePem: string;
}

function rsaKeyPair(modulusBits: number): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: modulusBits });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Self-signed certificate for the repository key; clients do not check its dates. */
export function selfSignedCertificate(fqrn: string, privatePem: string, validityDays: number): string {
  const privateKey = forge.pki.privateKeyFromPem(privatePem);
  const publicPem = createPublicKey(privatePem).export({ type: 'spki', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  const now = new Date();
  cert.validity.notBefore = now;
  cert.validity.notAfter = new Date(now.getTime() + validityDays * 86_400_000);
  const subject = [{ name: 'commonName', value: `${fqrn} CernVM-FS Release Managers` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export function generateRepositoryKeys(fqrn: string, modulusBits = 2048): RepositoryKeys {
  const master = rsaKeyPair(modulusBits);
  const repo = rsaKeyPair(modulusBits);
  return {
    masterPrivateKeyPem: master.privatePem,
    masterPublicKeyPem: master.publicPem,
    repoPrivateKeyPem: repo.privatePem,
    certificatePem: selfSignedCertificate(fqrn, repo.privatePem, 3650),
  };
}

export function certificateFingerprint(certificatePem: string): string {
  return fingerprintOfDer(new X509Certificate(certificatePem).raw);
}
