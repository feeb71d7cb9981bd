// Shared fixtures for the policy tests: one test PKI per file, temp dirs, openssl.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'tsw-policy-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Fails loudly when openssl is missing: the conformance tests need the real tool. */
export function requireOpenssl(): string {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error('openssl is not installed: run the test command as root (it installs Debian openssl)');
  return r.stdout.trim();
}

export function opensslSign(
  dir: string,
  content: Uint8Array,
  certPath: string,
  keyPath: string,
  chainPath?: string,
): Buffer {
  const doc = join(dir, `osl-${Math.random().toString(36).slice(2)}.yaml`);
  const out = `${doc}.p7s`;
  writeFileSync(doc, content);
  const args = [
    'cms',
    '-sign',
    '-binary',
    '-outform',
    'DER',
    '-md',
    'sha256',
    '-in',
    doc,
    '-signer',
    certPath,
    '-inkey',
    keyPath,
    '-out',
    out,
  ];
  if (chainPath) args.push('-certfile', chainPath);
  execFileSync('openssl', args, { stdio: 'pipe' });
  return execFileSync('cat', [out]);
}

/** A copy of `bytes` with one byte changed. */
export function flipByte(bytes: Uint8Array, index: number, mask = 0x01): Buffer {
  const copy = Buffer.from(bytes);
  const i = index < 0 ? copy.length + index : index;
  copy.writeUInt8(copy.readUInt8(i) ^ mask, i);
  return copy;
}
