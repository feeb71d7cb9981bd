// A test CA made with openssl for the S3-over-HTTPS tests: the CA, a server certificate it
// issued for IP:127.0.0.1 (with its key, in one PEM file as radosgw reads it), and a second,
// unrelated CA that must not be trusted for that server.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  /** PEM of the CA that issued the server certificate. */
  readonly caFile: string;
  /** PEM of a CA that issued nothing the server presents. */
  readonly otherCaFile: string;
  /** Server certificate followed by its private key (radosgw's ssl_certificate). */
  readonly serverCertAndKeyFile: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir, timeout: 60_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

async function makeCa(dir: string, name: string, subject: string): Promise<void> {
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

export async function makeTestCa(dir: string): Promise<TestCa> {
  await makeCa(dir, 'ca', '/O=TrustSwarm test/CN=Test Site CA');
  await makeCa(dir, 'other-ca', '/O=TrustSwarm test/CN=Some Other CA');
  await openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/O=TrustSwarm test/CN=127.0.0.1',
  ]);
  await writeFile(
    join(dir, 'server.ext'),
    [
      'subjectAltName=IP:127.0.0.1',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  const combined = join(dir, 'server-cert-and-key.pem');
  await writeFile(
    combined,
    (await readFile(join(dir, 'server.pem'), 'utf8')) + (await readFile(join(dir, 'server.key'), 'utf8')),
    { mode: 0o600 },
  );
  return {
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    serverCertAndKeyFile: combined,
  };
}
