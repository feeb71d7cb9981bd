// The signed manifest .cvmfspublished (upstream cvmfs/manifest.cc): the root of trust for one
// revision. Signature: RSA PKCS#1 v1.5 / SHA-1 over the ASCII hex SHA-1 of the body.
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { BridgeError } from '../errors.js';
import { EMPTY_MD5_HEX, isSha1Hex, sha1Hex } from './hash.js';
import { joinSignedFile, parseKeyLines, splitSignedFile } from './signed-file.js';

export interface Manifest {
  readonly rootCatalogHash: string;
  readonly rootCatalogSizeBytes: number;
  readonly ttlSeconds: number;
  readonly revision: number;
  readonly garbageCollectable: boolean;
  readonly name: string;
  readonly certificateHash: string;
  readonly historyHash?: string;
  readonly publishedAt: number;
}

export function manifestBody(m: Manifest): Buffer {
  const lines = [
    `C${m.rootCatalogHash}`,
    `B${m.rootCatalogSizeBytes}`,
    `R${EMPTY_MD5_HEX}`,
    `D${m.ttlSeconds}`,
    `S${m.revision}`,
    `G${m.garbageCollectable ? 'yes' : 'no'}`,
    'Ano',
    `N${m.name}`,
    `X${m.certificateHash}`,
    ...(m.historyHash ? [`H${m.historyHash}`] : []),
    `T${m.publishedAt}`,
  ];
  return Buffer.from(`${lines.join('\n')}\n`);
}

export function signManifest(m: Manifest, repoPrivateKeyPem: string | KeyObject): Buffer {
  const body = manifestBody(m);
  const hashHex = sha1Hex(body);
  const key = typeof repoPrivateKeyPem === 'string' ? createPrivateKey(repoPrivateKeyPem) : repoPrivateKeyPem;
  return joinSignedFile(body, hashHex, sign('sha1', Buffer.from(hashHex), key));
}

export interface SignedManifest {
  readonly manifest: Manifest;
  readonly bodyHashHex: string;
  readonly signature: Buffer;
}

function requireField(fields: Map<string, string>, key: string): string {
  const value = fields.get(key);
  if (value === undefined || value === '')
    throw new BridgeError('MANIFEST_INVALID', `manifest lacks field ${key}`);
  return value;
}

function requireInt(fields: Map<string, string>, key: string): number {
  const text = requireField(fields, key);
  if (!/^\d+$/.test(text)) throw new BridgeError('MANIFEST_INVALID', `manifest field ${key} is not a number`);
  return Number(text);
}

function requireHash(fields: Map<string, string>, key: string): string {
  const text = requireField(fields, key);
  if (!isSha1Hex(text))
    throw new BridgeError('MANIFEST_INVALID', `manifest field ${key} is not a SHA-1 hash`);
  return text;
}

/** Parses the envelope and the fields; the signature is checked separately (verifyManifestSignature). */
export function parseManifest(bytes: Buffer): SignedManifest {
  const { body, bodyHashHex, signature } = splitSignedFile(bytes, 'MANIFEST_INVALID', 'manifest');
  const fields = parseKeyLines(body);
  if (fields.get('R') !== EMPTY_MD5_HEX)
    throw new BridgeError('MANIFEST_INVALID', 'manifest root path hash is not md5("")');
  const history = fields.get('H');
  if (history !== undefined && !isSha1Hex(history))
    throw new BridgeError('MANIFEST_INVALID', 'manifest field H is not a SHA-1 hash');
  const manifest: Manifest = {
    rootCatalogHash: requireHash(fields, 'C'),
    rootCatalogSizeBytes: requireInt(fields, 'B'),
    ttlSeconds: requireInt(fields, 'D'),
    revision: requireInt(fields, 'S'),
    garbageCollectable: fields.get('G') === 'yes',
    name: requireField(fields, 'N'),
    certificateHash: requireHash(fields, 'X'),
    ...(history ? { historyHash: history } : {}),
    publishedAt: requireInt(fields, 'T'),
  };
  return { manifest, bodyHashHex, signature };
}

export function verifyManifestSignature(signed: SignedManifest, certificatePem: string): void {
  const key = createPublicKey(certificatePem);
  const ok = verify('sha1', Buffer.from(signed.bodyHashHex), key, signed.signature);
  if (!ok)
    throw new BridgeError(
      'MANIFEST_SIGNATURE_INVALID',
      'manifest signature does not verify with the repository certificate',
    );
}
