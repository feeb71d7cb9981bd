// The whitelist .cvmfswhitelist (upstream cvmfs/whitelist.cc): lists the certificate
// fingerprints the master key vouches for, until an expiry date. Signed by raw RSA
// PKCS#1 v1.5 private-key encryption of the ASCII hex body hash (no DigestInfo).
import {
  constants,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  privateEncrypt,
  publicDecrypt,
} from 'node:crypto';
import { BridgeError } from '../errors.js';
import { sha1Hex } from './hash.js';
import { joinSignedFile, splitSignedFile } from './signed-file.js';

export interface Whitelist {
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly name: string;
  /** Uppercase colon-separated SHA-1 of certificate DER. */
  readonly fingerprints: readonly string[];
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function parseStamp(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (!m) throw new BridgeError('WHITELIST_INVALID', `whitelist timestamp is malformed: ${text}`);
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  if (Number.isNaN(date.getTime()))
    throw new BridgeError('WHITELIST_INVALID', `whitelist timestamp is invalid: ${text}`);
  return date;
}

export function whitelistBody(w: Whitelist): Buffer {
  const lines = [stamp(w.createdAt), `E${stamp(w.expiresAt)}`, `N${w.name}`, ...w.fingerprints];
  return Buffer.from(`${lines.join('\n')}\n`);
}

export function signWhitelist(w: Whitelist, masterPrivateKey: string | KeyObject): Buffer {
  const body = whitelistBody(w);
  const hashHex = sha1Hex(body);
  const key = typeof masterPrivateKey === 'string' ? createPrivateKey(masterPrivateKey) : masterPrivateKey;
  const signature = privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(hashHex));
  return joinSignedFile(body, hashHex, signature);
}

export interface SignedWhitelist {
  readonly whitelist: Whitelist;
  readonly bodyHashHex: string;
  readonly signature: Buffer;
}

const FINGERPRINT = /^([0-9A-F]{2}:){19}[0-9A-F]{2}/;

export function parseWhitelist(bytes: Buffer): SignedWhitelist {
  const { body, bodyHashHex, signature } = splitSignedFile(bytes, 'WHITELIST_INVALID', 'whitelist');
  const lines = body
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  const [created, expires, name, ...rest] = lines;
  if (!created || !expires?.startsWith('E') || !name?.startsWith('N')) {
    throw new BridgeError('WHITELIST_INVALID', 'whitelist header lines are malformed');
  }
  // Upstream allows a trailing comment after the fingerprint (e.g. "AA:..:FF # name").
  const fingerprints = rest.map((l) => FINGERPRINT.exec(l)?.[0]).filter((f): f is string => f !== undefined);
  return {
    whitelist: {
      createdAt: parseStamp(created),
      expiresAt: parseStamp(expires.slice(1)),
      name: name.slice(1),
      fingerprints,
    },
    bodyHashHex,
    signature,
  };
}

/** Checks the signature against every given master public key; one must match. */
export function verifyWhitelistSignature(
  signed: SignedWhitelist,
  masterPublicKeysPem: readonly string[],
): void {
  for (const pem of masterPublicKeysPem) {
    try {
      const recovered = publicDecrypt(
        { key: createPublicKey(pem), padding: constants.RSA_PKCS1_PADDING },
        signed.signature,
      );
      if (recovered.toString('latin1') === signed.bodyHashHex) return;
    } catch {
      // a key that does not decrypt the signature simply does not match; try the next
    }
  }
  throw new BridgeError(
    'WHITELIST_SIGNATURE_INVALID',
    'whitelist signature does not verify with any master public key',
  );
}

export function fingerprintOfDer(der: Buffer): string {
  return (sha1Hex(der).toUpperCase().match(/../g) ?? []).join(':');
}
