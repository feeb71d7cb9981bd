// A throw-away site PKI made with stock openssl (until @trustswarm/policy/testing lands):
// a root CA with a CRL in CApath layout (<hash>.0, <hash>.r0) and a site signer whose
// detached CMS signatures verify with `openssl cms -verify`.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export interface TestPki {
  caPath: string;
  siteSubject: string;
  sign(content: Uint8Array): Promise<Buffer>;
  /** A second, untrusted CA's signer: signatures verify cryptographically but not to the anchors. */
  signUntrusted(content: Uint8Array): Promise<Buffer>;
}

async function openssl(args: string[], cwd: string): Promise<string> {
  return (await execa('openssl', args, { cwd })).stdout;
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-subj',
      `/O=TrustSwarm Test/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
}

async function makeSigner(dir: string, ca: string, name: string, subject: string): Promise<void> {
  await openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    ],
    dir,
  );
  await writeFile(
    join(dir, `${name}.ext`),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n',
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
}

async function signWith(dir: string, name: string, content: Uint8Array): Promise<Buffer> {
  const stamp = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const input = join(dir, `doc-${stamp}`);
  const output = join(dir, `sig-${stamp}.p7s`);
  await writeFile(input, content);
  await openssl(
    [
      'cms',
      '-sign',
      '-binary',
      '-in',
      input,
      '-signer',
      `${name}.pem`,
      '-inkey',
      `${name}.key`,
      '-md',
      'sha256',
      '-outform',
      'DER',
      '-out',
      output,
    ],
    dir,
  );
  return readFile(output);
}

export async function createTestPki(dir: string): Promise<TestPki> {
  await mkdir(dir, { recursive: true });
  await makeCa(dir, 'root');
  await makeSigner(dir, 'root', 'site', '/O=TrustSwarm Test/CN=site CERN-TEST');
  await makeCa(dir, 'rogue');
  await makeSigner(dir, 'rogue', 'mallory', '/O=TrustSwarm Test/CN=site CERN-TEST');
  // An empty CRL, so -crl_check can run as it does at a real site.
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `database = ${join(dir, 'index.txt')}`,
      'default_md = sha256',
      'default_crl_days = 30',
      '',
    ].join('\n'),
  );
  await openssl(
    ['ca', '-gencrl', '-config', 'ca.cnf', '-keyfile', 'root.key', '-cert', 'root.pem', '-out', 'root.crl'],
    dir,
  );
  const caPath = join(dir, 'capath');
  await mkdir(caPath, { recursive: true });
  const hash = (await openssl(['x509', '-in', 'root.pem', '-noout', '-hash'], dir)).trim();
  await writeFile(join(caPath, `${hash}.0`), await readFile(join(dir, 'root.pem')));
  await writeFile(join(caPath, `${hash}.r0`), await readFile(join(dir, 'root.crl')));
  const siteSubject = (
    await openssl(['x509', '-in', 'site.pem', '-noout', '-subject', '-nameopt', 'RFC2253'], dir)
  )
    .replace(/^subject=\s*/, '')
    .trim();
  return {
    caPath,
    siteSubject,
    sign: (content) => signWith(dir, 'site', content),
    signUntrusted: (content) => signWith(dir, 'mallory', content),
  };
}
