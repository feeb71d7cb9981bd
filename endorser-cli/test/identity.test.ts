// Identity: grid PEM pairs (plain, encrypted PKCS#8, encrypted PKCS#1), PKCS#12, passphrase
// sources, init with a CSR and with --dev-ca, and every refusal (wrong passphrase, expired
// or not-yet-valid certificate, key that does not match, missing files).

import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPki, opensslCmsVerifyFiles, type TestPki } from '@trustswarm/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, expectOneLineError, type Sandbox, sandbox } from './helpers.js';

let box: Sandbox;
let pki: TestPki;

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  pki = await createTestPki(join(box.dir, 'pki'));
  const r = await box.run(['catalog', 'new', 'ident-test']);
  expect(r.exitCode).toBe(0);
});
afterAll(() => box.cleanup());

const DAY_MS = 24 * 3600 * 1000;

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function signatures(): string[] {
  try {
    return readdirSync(join(box.dir, 'signatures'));
  } catch {
    return [];
  }
}

describe('PEM identities', () => {
  it('signs with a plain PKCS#8 key and names the file by the certificate sha256', async () => {
    const { alice } = pki.endorsers;
    const r = await box.run(['--json', '--cert', alice.certPath, '--key', alice.keyPath, 'sign']);
    expect(r.exitCode).toBe(0);
    expect(r.json().signerCertSha256).toBe(alice.certificate.sha256);
    expect(signatures()).toContain(`${alice.certificate.sha256}.p7s`);
  });

  it('decrypts an encrypted PKCS#8 key with the passphrase from the environment', async () => {
    const { bob } = pki.endorsers;
    const keyPath = join(box.dir, 'bob-p8.pem');
    const encrypted = createPrivateKey(bob.privateKeyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'bob-secret',
    });
    writeFileSync(keyPath, encrypted);
    const r = await box.run(['--cert', bob.certPath, '--key', keyPath, 'sign'], {
      env: { TSW_ENDORSE_PASSPHRASE: 'bob-secret' },
    });
    expect(r.exitCode).toBe(0);
    expect(signatures()).toContain(`${bob.certificate.sha256}.p7s`);
  });

  it('decrypts a traditional encrypted PKCS#1 key (openssl -traditional) from a passphrase file', async () => {
    const { carol } = pki.endorsers;
    const keyPath = join(box.dir, 'carol-p1.pem');
    openssl([
      'rsa',
      '-in',
      carol.keyPath,
      '-aes256',
      '-traditional',
      '-passout',
      'pass:carol-pw',
      '-out',
      keyPath,
    ]);
    expect(readFileSync(keyPath, 'utf8')).toMatch(/Proc-Type: 4,ENCRYPTED/);
    writeFileSync(join(box.dir, 'pw.txt'), 'carol-pw\n');
    const r = await box.run([
      '--cert',
      carol.certPath,
      '--key',
      keyPath,
      '--passphrase-file',
      'pw.txt',
      'sign',
    ]);
    expect(r.exitCode).toBe(0);
    expect(signatures()).toContain(`${carol.certificate.sha256}.p7s`);
  });

  it('refuses a wrong passphrase with exit 4 and writes no signature', async () => {
    const { bob } = pki.endorsers;
    const before = signatures().length;
    const r = await box.run(['--cert', bob.certPath, '--key', join(box.dir, 'bob-p8.pem'), 'sign'], {
      env: { TSW_ENDORSE_PASSPHRASE: 'not-it' },
    });
    expectOneLineError(r, 4, /wrong passphrase/);
    expect(signatures().length).toBe(before);
  });

  it('asks for a passphrase only on a terminal: without one it fails with exit 4', async () => {
    const { bob } = pki.endorsers;
    const r = await box.run(['--cert', bob.certPath, '--key', join(box.dir, 'bob-p8.pem'), 'sign']);
    expectOneLineError(r, 4, /is encrypted: give the passphrase/);
  });

  it('refuses a key that does not match the certificate', async () => {
    const r = await box.run([
      '--cert',
      pki.endorsers.alice.certPath,
      '--key',
      pki.endorsers.bob.keyPath,
      'sign',
    ]);
    expectOneLineError(r, 4, /does not match the certificate/);
  });

  it('names a missing certificate or key file', async () => {
    const r = await box.run(['--cert', 'nope.pem', '--key', pki.endorsers.bob.keyPath, 'sign']);
    expectOneLineError(r, 4, /certificate nope\.pem: no such file/);
    const r2 = await box.run(['sign']);
    expectOneLineError(r2, 4, /userkey\.pem: no such file.*tsw-endorse init/);
  });

  it('refuses to sign with an expired certificate', async () => {
    const r = await box.run(['--cert', pki.expired.certPath, '--key', pki.expired.keyPath, 'sign']);
    expectOneLineError(r, 4, /expired at/);
  });

  it('refuses to sign with a certificate that is not yet valid', async () => {
    const future = pki.issue('Frank Future', {
      notBefore: new Date(Date.now() + 2 * DAY_MS),
      notAfter: new Date(Date.now() + 30 * DAY_MS),
    });
    const r = await box.run(['--cert', future.certPath, '--key', future.keyPath, 'sign']);
    expectOneLineError(r, 4, /not valid before/);
  });
});

describe('PKCS#12', () => {
  const exportP12 = (id: { certPath: string; keyPath: string }, out: string, extra: string[] = []) =>
    openssl([
      'pkcs12',
      '-export',
      '-in',
      id.certPath,
      '-inkey',
      id.keyPath,
      '-certfile',
      join(pki.dir, 'ca-bundle.pem'),
      '-passout',
      'pass:p12-pw',
      '-out',
      out,
      ...extra,
    ]);

  it('signs from an OpenSSL 3 PKCS#12 file (AES-256, PBKDF2, SHA-256 MAC)', async () => {
    const id = pki.issue('Paula Pkcs12');
    const p12 = join(box.dir, 'paula.p12');
    exportP12(id, p12);
    const r = await box.run(['--json', '--pkcs12', p12, 'sign'], {
      env: { TSW_ENDORSE_PASSPHRASE: 'p12-pw' },
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.json().signerCertSha256).toBe(id.certificate.sha256);
  });

  it('signs from a legacy PKCS#12 file (3DES, SHA-1 MAC)', async () => {
    const id = pki.issue('Leo Legacy');
    const p12 = join(box.dir, 'leo.p12');
    exportP12(id, p12, ['-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']);
    const r = await box.run(['--pkcs12', p12, 'sign'], { env: { TSW_ENDORSE_PASSPHRASE: 'p12-pw' } });
    expect(r.exitCode).toBe(0);
    expect(signatures()).toContain(`${id.certificate.sha256}.p7s`);
  });

  it('refuses a wrong PKCS#12 passphrase with exit 4', async () => {
    const r = await box.run(['--pkcs12', join(box.dir, 'paula.p12'), 'sign'], {
      env: { TSW_ENDORSE_PASSPHRASE: 'bad' },
    });
    expectOneLineError(r, 4, /wrong passphrase/);
  });
});

describe('init', () => {
  it('makes an encrypted key and a CSR, refuses to overwrite, installs only the matching certificate', async () => {
    const b = sandbox();
    try {
      const env = { TSW_ENDORSE_PASSPHRASE: 'init-secret' };
      const r = await b.run(
        ['--json', 'init', '--subject', '/DC=org/DC=trustswarm-test/OU=people/CN=Ivan Init'],
        { env },
      );
      expect(r.exitCode).toBe(0);
      const keyPem = readFileSync(join(b.home, '.globus', 'userkey.pem'), 'utf8');
      expect(keyPem).toContain('BEGIN ENCRYPTED PRIVATE KEY');
      const csr = join(b.home, '.globus', 'usercert_request.pem');
      expect(openssl(['req', '-in', csr, '-noout', '-verify', '-subject'])).toMatch(/CN\s*=\s*Ivan Init/);

      const again = await b.run(['init', '--cn', 'Ivan'], { env });
      expectOneLineError(again, 4, /already exists/);

      const wrong = await b.run(['init', '--install-cert', pki.endorsers.alice.certPath]);
      expectOneLineError(wrong, 4, /public keys differ/);

      // The CA answers the request with real openssl.
      const caKey = join(b.dir, 'ca.key');
      const caCert = join(b.dir, 'ca.pem');
      writeFileSync(caKey, pki.intermediate.privateKeyPem);
      writeFileSync(caCert, pki.intermediate.certificatePem);
      const issued = join(b.dir, 'issued.pem');
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-days',
        '30',
        '-out',
        issued,
      ]);
      const ok = await b.run(['init', '--install-cert', issued]);
      expect(ok.exitCode).toBe(0);
      await b.run(['catalog', 'new', 'x']);
      writeFileSync(join(b.dir, 'chain.pem'), pki.intermediate.certificatePem);
      const signed = await b.run(['sign'], {
        env: { ...env, TSW_ENDORSE_IDENTITY_CHAIN_FILE: join(b.dir, 'chain.pem') },
      });
      expect(signed.exitCode).toBe(0);
      const verified = await b.run(['verify', '--ca', pki.caPathDir]);
      expect(verified.stdout).toContain('verdict: OK');
      expect(verified.exitCode).toBe(0);
    } finally {
      b.cleanup();
    }
  });

  it('--dev-ca issues a certificate whose signatures verify with stock openssl cms', async () => {
    const b = sandbox();
    try {
      const env = { TSW_ENDORSE_PASSPHRASE: 'dev-secret' };
      const r = await b.run(['init', '--dev-ca', 'devca', '--cn', 'Dana Dev'], { env });
      expect(r.exitCode).toBe(0);
      await b.run(['catalog', 'new', 'dev']);
      const s = await b.run(['--json', 'sign'], { env });
      expect(s.exitCode).toBe(0);
      const sig = String(s.json().signature);
      const verdict = opensslCmsVerifyFiles(
        sig,
        join(b.dir, 'catalog.yaml'),
        join(b.dir, 'devca', 'certificates'),
      );
      expect(verdict.ok).toBe(true);
      const v = await b.run(['verify', '--ca', 'devca/certificates']);
      expect(v.exitCode).toBe(0);
    } finally {
      b.cleanup();
    }
  });
});
