// The endorser's identity as grid users hold it: ~/.globus/usercert.pem + userkey.pem
// (plain or encrypted, PKCS#8 or PKCS#1) or a PKCS#12 file. The key is decrypted here and
// handed to policy's signDetached as a KeyObject; it is never written anywhere.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Certificate, loadCertificate, loadCertificates } from '@trustswarm/policy';
import forge from 'node-forge';
import { type Config, expandPath } from './config.js';
import { CliError, fsError, messageOf } from './errors.js';
import { obtainPassphrase } from './passphrase.js';

export interface Identity {
  certificate: Certificate;
  certificatePem: string;
  /** Intermediate CA certificates, nearest first. */
  chainPem: string[];
  privateKey: KeyObject;
}

function readOrFail(path: string, what: string): Buffer {
  try {
    return readFileSync(expandPath(path));
  } catch (err) {
    const e = fsError(err, `${what} ${path}`);
    throw e.code === 'NOT_FOUND'
      ? new CliError('IDENTITY_MISSING', `${e.message} (see 'tsw-endorse init')`)
      : e;
  }
}

/** Loads only the certificate (no key, no passphrase): for names shown in a catalog. */
export function loadIdentityCertificate(config: Config): Certificate | undefined {
  if (config.identity.pkcs12File) return undefined;
  try {
    return loadCertificate(readFileSync(expandPath(config.identity.certFile)));
  } catch {
    return undefined;
  }
}

export function isEncryptedPem(pem: string): boolean {
  return pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
}

function decryptPemKey(pem: string, passphrase: string | undefined, path: string): KeyObject {
  try {
    return createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch (err) {
    if (passphrase !== undefined)
      throw new CliError('PASSPHRASE_WRONG', `cannot decrypt ${path}: wrong passphrase`);
    throw new CliError('IDENTITY_INVALID', `${path}: not a private key (${messageOf(err)})`);
  }
}

function loadPemIdentity(
  config: Config,
  passphrase: string | undefined,
): { certs: Certificate[]; key: KeyObject } {
  const certPath = config.identity.certFile;
  const certText = readOrFail(certPath, 'certificate');
  let certs: Certificate[];
  try {
    certs = loadCertificates(certText);
    if (certs.length === 0) certs = [loadCertificate(certText)];
  } catch (err) {
    throw new CliError('IDENTITY_INVALID', `certificate ${certPath}: ${messageOf(err)}`);
  }
  const keyPath = config.identity.keyFile;
  const keyPem = readOrFail(keyPath, 'private key').toString('latin1');
  const key = decryptPemKey(keyPem, isEncryptedPem(keyPem) ? passphrase : undefined, keyPath);
  return { certs, key };
}

function loadPkcs12(path: string, passphrase: string): { certs: Certificate[]; key: KeyObject } {
  const der = readOrFail(path, 'PKCS#12 file');
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase);
  } catch (err) {
    const message = messageOf(err);
    if (/password|mac/i.test(message))
      throw new CliError('PASSPHRASE_WRONG', `cannot open ${path}: wrong passphrase`);
    throw new CliError('IDENTITY_INVALID', `${path}: not a PKCS#12 file (${message})`);
  }
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag as string })[
      forge.pki.oids.pkcs8ShroudedKeyBag as string
    ] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag as string })[forge.pki.oids.keyBag as string] ?? []),
  ];
  const forgeKey = keyBags.find((b) => b.key)?.key;
  if (!forgeKey) throw new CliError('IDENTITY_INVALID', `${path}: holds no private key`);
  const certBags =
    p12.getBags({ bagType: forge.pki.oids.certBag as string })[forge.pki.oids.certBag as string] ?? [];
  const certs = certBags.flatMap((b) =>
    b.cert ? [loadCertificate(forge.pki.certificateToPem(b.cert))] : [],
  );
  const key = createPrivateKey(forge.pki.privateKeyToPem(forgeKey as forge.pki.rsa.PrivateKey));
  return { certs, key };
}

/** Loads certificate, chain and decrypted key, asking for a passphrase only when needed. */
export async function loadIdentity(config: Config): Promise<Identity> {
  const id = config.identity;
  const source = { file: id.passphraseFile, envName: id.passphraseEnv };
  let loaded: { certs: Certificate[]; key: KeyObject };
  if (id.pkcs12File) {
    readOrFail(id.pkcs12File, 'PKCS#12 file');
    loaded = loadPkcs12(id.pkcs12File, await obtainPassphrase(source, id.pkcs12File));
  } else {
    const keyPem = readOrFail(id.keyFile, 'private key').toString('latin1');
    readOrFail(id.certFile, 'certificate');
    const passphrase = isEncryptedPem(keyPem) ? await obtainPassphrase(source, id.keyFile) : undefined;
    loaded = loadPemIdentity(config, passphrase);
  }
  const publicKey = createPublicKey(loaded.key);
  const own = loaded.certs.find((c) => c.publicKey.equals(publicKey));
  if (!own) throw new CliError('IDENTITY_INVALID', 'the private key does not match the certificate');
  const extra = id.chainFile ? loadCertificates(readOrFail(id.chainFile, 'chain file')) : [];
  const chainPem = [...loaded.certs.filter((c) => c !== own), ...extra]
    .filter((c) => c.isCA)
    .map((c) => c.pem);
  return { certificate: own, certificatePem: own.pem, chainPem, privateKey: loaded.key };
}

/** Refuses a certificate outside its validity period (signing with it would be useless). */
export function requireCurrentlyValid(cert: Certificate, now = new Date()): void {
  if (now < cert.notBefore)
    throw new CliError(
      'CERT_NOT_VALID',
      `certificate ${cert.subject} is not valid before ${cert.notBefore.toISOString()}`,
    );
  if (now > cert.notAfter)
    throw new CliError(
      'CERT_NOT_VALID',
      `certificate ${cert.subject} expired at ${cert.notAfter.toISOString()}`,
    );
}
