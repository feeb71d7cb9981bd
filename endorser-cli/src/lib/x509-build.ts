// Making keys, CSRs and (for --dev-ca) certificates with node-forge. Only `init` uses this:
// the endorser's key is made on their machine and never leaves it.

import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { CliError } from './errors.js';

const OID_DC = '0.9.2342.19200300.100.1.25';
const SHORT_NAMES = new Set(['C', 'ST', 'L', 'O', 'OU', 'CN', 'E', 'emailAddress']);

/** "/DC=org/DC=example/OU=people/CN=Alice" → forge subject attributes. */
export function slashDnToAttributes(dn: string): forge.pki.CertificateField[] {
  if (!dn.startsWith('/'))
    throw new CliError('USAGE', `subject ${dn}: expected slash form, like /DC=org/CN=Alice`);
  return dn
    .slice(1)
    .split('/')
    .map((part) => {
      const eq = part.indexOf('=');
      const key = part.slice(0, eq);
      const value = part.slice(eq + 1);
      if (eq <= 0 || !value)
        throw new CliError('USAGE', `subject ${dn}: bad component ${JSON.stringify(part)}`);
      if (key === 'DC')
        return {
          type: OID_DC,
          value,
          valueTagClass: forge.asn1.Type.IA5STRING as unknown as forge.asn1.Class,
        };
      if (!SHORT_NAMES.has(key)) throw new CliError('USAGE', `subject ${dn}: unknown attribute ${key}`);
      return { shortName: key === 'E' ? 'emailAddress' : key, value };
    });
}

export function newRsaKey(bits = 2048): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
}

/** PKCS#8 PEM, encrypted with AES-256-CBC (PBKDF2) when a passphrase is given. */
export function keyToPem(key: KeyObject, passphrase: string | undefined): string {
  return key
    .export(
      passphrase
        ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }
        : { type: 'pkcs8', format: 'pem' },
    )
    .toString();
}

function forgeKey(key: KeyObject): forge.pki.rsa.PrivateKey {
  return forge.pki.privateKeyFromPem(key.export({ type: 'pkcs1', format: 'pem' }).toString());
}

function forgePublic(key: KeyObject): forge.pki.rsa.PublicKey {
  const priv = forgeKey(key);
  return forge.pki.setRsaPublicKey(priv.n, priv.e);
}

export function makeCsr(key: KeyObject, subjectDn: string): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forgePublic(key);
  csr.setSubject(slashDnToAttributes(subjectDn));
  csr.sign(forgeKey(key), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/** The public key of a CSR as SPKI PEM (to match the certificate a CA returns). */
export function csrPublicKeyPem(csrPem: string): string {
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  if (!csr.verify()) throw new CliError('IDENTITY_INVALID', 'the certificate request has a bad signature');
  return forge.pki.publicKeyToPem(csr.publicKey as forge.pki.rsa.PublicKey);
}

function serial(): string {
  return `1${randomBytes(8).toString('hex')}`;
}

export interface CertSpec {
  subject: forge.pki.CertificateField[];
  publicKey: forge.pki.rsa.PublicKey;
  issuer: forge.pki.CertificateField[];
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
}

export function makeCertificate(spec: CertSpec): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(spec.subject);
  cert.setIssuer(spec.issuer);
  cert.setExtensions([
    { name: 'basicConstraints', cA: spec.ca, critical: true },
    spec.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey(spec.signingKey), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export function publicKeyOf(key: KeyObject): forge.pki.rsa.PublicKey {
  return forgePublic(key);
}

export function csrToCertSpec(csrPem: string): {
  subject: forge.pki.CertificateField[];
  publicKey: forge.pki.rsa.PublicKey;
} {
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  return { subject: csr.subject.attributes, publicKey: csr.publicKey as forge.pki.rsa.PublicKey };
}

export function loadKey(pem: string): KeyObject {
  return createPrivateKey(pem);
}
