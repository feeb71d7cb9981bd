// Where the bridge keeps the keys of repositories it creates on request: encrypted files by
// default, HashiCorp Vault KV v2 as an option. Keys are written once and never replaced.
import type { RepositoryKeys } from '../../repo/keys.js';

export interface KeyStore {
  readonly description: string;
  /** Stores the keys of a new repository; refuses to replace keys already stored. */
  put(fqrn: string, keys: RepositoryKeys): Promise<void>;
  get(fqrn: string): Promise<RepositoryKeys | undefined>;
}

const FIELDS = ['masterPrivateKeyPem', 'masterPublicKeyPem', 'repoPrivateKeyPem', 'certificatePem'] as const;

/** Checks that a decoded record holds all four PEM strings. */
export function asKeys(value: unknown): RepositoryKeys | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  for (const f of FIELDS)
    if (typeof record[f] !== 'string' || !String(record[f]).includes('-----BEGIN')) return undefined;
  return {
    masterPrivateKeyPem: String(record.masterPrivateKeyPem),
    masterPublicKeyPem: String(record.masterPublicKeyPem),
    repoPrivateKeyPem: String(record.repoPrivateKeyPem),
    certificatePem: String(record.certificatePem),
  };
}
