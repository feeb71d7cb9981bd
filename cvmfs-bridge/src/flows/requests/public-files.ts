// What a requester downloads to mount the new repository: the master public key and a
// ready client config, written beside the repository under storageDir/<fqrn>/client/, so
// whatever serves storageDir (nginx, `tsw-bridge repo serve`) serves them at a static URL.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clientConfig } from '../../client-config.js';
import type { Repository } from '../../repo/repository.js';
import { writeFileAtomic } from '../../store/atomic-file.js';

export interface PublicFiles {
  readonly publicKeyUrl: string;
  readonly clientConfigUrl: string;
  readonly repositoryUrl: string;
}

export function repositoryUrl(publicUrl: string, fqrn: string): string {
  return publicUrl.replaceAll('@fqrn@', fqrn);
}

export function writePublicFiles(repo: Repository, publicUrl: string): PublicFiles {
  const fqrn = repo.fqrn;
  const url = repositoryUrl(publicUrl, fqrn);
  const dir = join(repo.layout.publicDir, 'client');
  mkdirSync(dir, { recursive: true });
  const c = clientConfig(fqrn, publicUrl, repo.masterPublicKey());
  writeFileAtomic(join(dir, `${fqrn}.pub`), c.publicKey);
  writeFileAtomic(join(dir, `${fqrn}.conf`), `${c.config}\n`);
  return {
    repositoryUrl: url,
    publicKeyUrl: `${url}/client/${fqrn}.pub`,
    clientConfigUrl: `${url}/client/${fqrn}.conf`,
  };
}
