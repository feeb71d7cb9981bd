// Stock OpenSSL as the independent judge of our signatures: the exact command the design
// names (`openssl cms -verify -binary … -CApath … -crl_check -purpose any`).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpensslVerdict {
  ok: boolean;
  stderr: string;
}

/** Verifies a detached DER signature file over a content file against a CApath directory. */
export function opensslCmsVerifyFiles(
  signaturePath: string,
  contentPath: string,
  caPath: string,
): OpensslVerdict {
  const r = spawnSync(
    'openssl',
    [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      signaturePath,
      '-content',
      contentPath,
      '-CApath',
      caPath,
      '-crl_check',
      '-purpose',
      'any',
      '-out',
      '/dev/null',
    ],
    { encoding: 'utf8' },
  );
  if (r.error) throw new Error(`cannot run openssl: ${r.error.message} (install Debian's openssl)`);
  return { ok: r.status === 0, stderr: r.stderr };
}

/** The same for bytes in memory (written to a private temporary directory). */
export function opensslCmsVerify(content: Uint8Array, signature: Uint8Array, caPath: string): OpensslVerdict {
  const dir = mkdtempSync(join(tmpdir(), 'tsw-openssl-'));
  try {
    writeFileSync(join(dir, 'doc'), content);
    writeFileSync(join(dir, 'doc.p7s'), signature);
    return opensslCmsVerifyFiles(join(dir, 'doc.p7s'), join(dir, 'doc'), caPath);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
