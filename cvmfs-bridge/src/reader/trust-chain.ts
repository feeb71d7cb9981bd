// The stock client's checks when it mounts a revision, in its order: manifest, certificate
// object, manifest signature, whitelist name and dates, whitelist signature against the
// master public key(s), certificate fingerprint listed in the whitelist, rollback.
import { X509Certificate } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { BridgeError } from '../errors.js';
import { objectPath, sha1Hex } from '../format/hash.js';
import { type Manifest, parseManifest, verifyManifestSignature } from '../format/manifest.js';
import {
  fingerprintOfDer,
  parseWhitelist,
  verifyWhitelistSignature,
  type Whitelist,
} from '../format/whitelist.js';
import type { Fetcher } from './fetcher.js';

export interface TrustOptions {
  readonly fqrn: string;
  readonly masterPublicKeysPem: readonly string[];
  readonly now?: Date;
  /** Highest revision seen before; a lower manifest revision is a rollback. */
  readonly minRevision?: number;
}

export interface TrustedRevision {
  readonly manifest: Manifest;
  readonly whitelist: Whitelist;
  readonly certificatePem: string;
}

const MAX_SMALL_FILE_BYTES = 4 * 1024 * 1024;

/** Fetches an object, checks its bytes against its name, returns the stored bytes. */
export async function fetchVerified(
  fetcher: Fetcher,
  hash: string,
  suffix: '' | 'C' | 'X' | 'H',
  maxBytes: number,
): Promise<Buffer> {
  const stored = await fetcher.get(objectPath(hash, suffix), maxBytes);
  if (sha1Hex(stored) !== hash)
    throw new BridgeError('HASH_MISMATCH', `object ${objectPath(hash, suffix)} does not match its hash`);
  return stored;
}

function inflateOrFail(stored: Buffer, what: string): Buffer {
  try {
    return inflateSync(stored);
  } catch {
    throw new BridgeError('HASH_MISMATCH', `${what} is not valid zlib data`);
  }
}

export async function establishTrust(fetcher: Fetcher, options: TrustOptions): Promise<TrustedRevision> {
  const signed = parseManifest(await fetcher.get('.cvmfspublished', MAX_SMALL_FILE_BYTES));
  const { manifest } = signed;
  if (manifest.name !== options.fqrn) {
    throw new BridgeError(
      'MANIFEST_INVALID',
      `manifest names repository ${manifest.name}, expected ${options.fqrn}`,
    );
  }
  const certStored = await fetchVerified(fetcher, manifest.certificateHash, 'X', MAX_SMALL_FILE_BYTES);
  const certificatePem = inflateOrFail(certStored, 'certificate object').toString('utf8');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch {
    throw new BridgeError('CERTIFICATE_INVALID', 'certificate object is not an X.509 certificate');
  }
  verifyManifestSignature(signed, certificatePem);

  const signedWhitelist = parseWhitelist(await fetcher.get('.cvmfswhitelist', MAX_SMALL_FILE_BYTES));
  const { whitelist } = signedWhitelist;
  if (whitelist.name !== options.fqrn) {
    throw new BridgeError(
      'WHITELIST_INVALID',
      `whitelist names repository ${whitelist.name}, expected ${options.fqrn}`,
    );
  }
  const now = options.now ?? new Date();
  if (whitelist.expiresAt.getTime() <= now.getTime()) {
    throw new BridgeError('WHITELIST_EXPIRED', `whitelist expired at ${whitelist.expiresAt.toISOString()}`);
  }
  verifyWhitelistSignature(signedWhitelist, options.masterPublicKeysPem);
  const fingerprint = fingerprintOfDer(certificate.raw);
  if (!whitelist.fingerprints.includes(fingerprint)) {
    throw new BridgeError(
      'CERTIFICATE_NOT_WHITELISTED',
      `certificate ${fingerprint} is not listed in the whitelist`,
    );
  }
  if (options.minRevision !== undefined && manifest.revision < options.minRevision) {
    throw new BridgeError(
      'ROLLBACK',
      `manifest revision ${manifest.revision} is older than ${options.minRevision}`,
    );
  }
  return { manifest, whitelist, certificatePem };
}

export { inflateOrFail };
