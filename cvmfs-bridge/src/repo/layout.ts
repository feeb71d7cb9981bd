// Where a repository's files live: the public tree (served over HTTP) under
// storageDir/<fqrn>, and private state (keys, cache, work area, lock) under stateDir/<fqrn>.
import { join } from 'node:path';
import { BridgeError } from '../errors.js';

export interface RepoLayout {
  readonly fqrn: string;
  readonly publicDir: string;
  readonly stateDir: string;
  readonly manifestFile: string;
  readonly whitelistFile: string;
  readonly masterReplicaFile: string;
  readonly masterKeyFile: string;
  readonly masterPublicKeyFile: string;
  readonly repoKeyFile: string;
  readonly certificateFile: string;
  readonly cacheDbFile: string;
  readonly workDir: string;
  readonly lockFile: string;
}

/** Fully qualified repository names as upstream accepts them: DNS-like, at least one dot. */
export function requireFqrn(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*(\.[A-Za-z0-9][A-Za-z0-9-]*)+$/.test(name) || name.length > 200) {
    throw new BridgeError(
      'BAD_INPUT',
      `repository name must be a fully qualified name like sw.example.org: ${name}`,
    );
  }
  return name;
}

export function repoLayout(storageDir: string, stateDir: string, fqrn: string): RepoLayout {
  requireFqrn(fqrn);
  const publicDir = join(storageDir, fqrn);
  const privateDir = join(stateDir, fqrn);
  return {
    fqrn,
    publicDir,
    stateDir: privateDir,
    manifestFile: join(publicDir, '.cvmfspublished'),
    whitelistFile: join(publicDir, '.cvmfswhitelist'),
    masterReplicaFile: join(publicDir, '.cvmfs_master_replica'),
    masterKeyFile: join(privateDir, `${fqrn}.masterkey`),
    masterPublicKeyFile: join(privateDir, `${fqrn}.pub`),
    repoKeyFile: join(privateDir, `${fqrn}.key`),
    certificateFile: join(privateDir, `${fqrn}.crt`),
    cacheDbFile: join(privateDir, 'content-cache.db'),
    workDir: join(privateDir, 'work'),
    lockFile: join(privateDir, 'lock'),
  };
}
