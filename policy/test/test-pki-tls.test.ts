// The test PKI's TLS certificates: subjectAltName, extendedKeyUsage and keyUsage as issue()
// is asked, judged by stock OpenSSL (`x509 -text`, `verify -purpose … -verify_ip`) and by a
// real TLS handshake with node:tls on 127.0.0.1, where the peer checks the address.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestIdentity, type TestPki } from '../src/testing/index.js';
import { requireOpenssl, tempDir } from './helpers.js';

const dir = tempDir('tsw-pki-tls-');
let pki: TestPki;
let server: TestIdentity;
let rootFile: string;
let chainFile: string;

beforeAll(async () => {
  requireOpenssl();
  pki = await createTestPki(join(dir, 'pki'));
  server = pki.issue('tls.example.org', {
    ou: 'hosts',
    subjectAltName: { dns: ['tls.example.org', 'localhost'], ip: ['127.0.0.1', '::1'] },
    extendedKeyUsage: ['serverAuth'],
  });
  rootFile = join(dir, 'root.pem');
  chainFile = join(dir, 'intermediate.pem');
  writeFileSync(rootFile, pki.root.certificatePem);
  writeFileSync(chainFile, pki.intermediate.certificatePem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function x509Text(identity: TestIdentity): string {
  const r = spawnSync('openssl', ['x509', '-noout', '-text', '-in', identity.certPath], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** `openssl verify` of an identity for a purpose, with extra checks (-verify_ip …). */
function opensslVerify(identity: TestIdentity, purpose: string, extra: string[] = []) {
  const args = ['verify', '-CAfile', rootFile, '-untrusted', chainFile, '-purpose', purpose, ...extra];
  const r = spawnSync('openssl', [...args, identity.certPath], { encoding: 'utf8' });
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

/** A TLS server on 127.0.0.1:0 presenting `identity` and its chain; resolves with the port. */
async function listen(identity: TestIdentity, clientCa?: string): Promise<Server & { port: number }> {
  const tlsServer = createServer({
    key: identity.privateKeyPem,
    cert: [identity.certificatePem, ...identity.chainPem].join(''),
    ...(clientCa ? { requestCert: true, rejectUnauthorized: false, ca: clientCa } : {}),
  });
  // a client certificate asked for and not accepted is answered with the reason
  tlsServer.on('secureConnection', (socket) =>
    socket.end(!clientCa || socket.authorized ? 'hello' : `refused: ${socket.authorizationError}`),
  );
  tlsServer.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  return Object.assign(tlsServer, { port: (tlsServer.address() as AddressInfo).port });
}

/** Connects to 127.0.0.1 trusting only the test root; the error code on refusal. */
function handshake(
  port: number,
  options: { servername?: string; client?: TestIdentity } = {},
): Promise<{ ok: true; data: string } | { ok: false; code: string }> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: pki.root.certificatePem,
      ...(options.servername ? { servername: options.servername } : {}),
      ...(options.client
        ? {
            key: options.client.privateKeyPem,
            cert: [options.client.certificatePem, ...options.client.chainPem].join(''),
          }
        : {}),
    });
    let data = '';
    socket.on('data', (d: Buffer) => {
      data += d.toString();
    });
    socket.on('end', () => resolve({ ok: true, data }));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ ok: false, code: error.code ?? error.message }),
    );
  });
}

describe('test PKI: TLS certificates', () => {
  it('writes subjectAltName, extendedKeyUsage and a TLS keyUsage that openssl reads back', () => {
    const text = x509Text(server);
    expect(text).toMatch(
      /X509v3 Subject Alternative Name: *\n\s*DNS:tls\.example\.org, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1\s*\n/,
    );
    expect(text).toMatch(/X509v3 Extended Key Usage: *\n\s*TLS Web Server Authentication\s*\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature, Key Encipherment\s*\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);
    // a grid identity stays as it was: no SAN, no EKU, signing key usage
    const alice = x509Text(pki.endorsers.alice);
    expect(alice).not.toContain('Subject Alternative Name');
    expect(alice).not.toContain('Extended Key Usage');
    expect(alice).toMatch(/Digital Signature, Non Repudiation/);
  });

  it('passes openssl verify -purpose sslserver for its names only, and not as a client', () => {
    expect(opensslVerify(server, 'sslserver', ['-verify_ip', '127.0.0.1'])).toMatchObject({ ok: true });
    expect(opensslVerify(server, 'sslserver', ['-verify_hostname', 'localhost'])).toMatchObject({ ok: true });
    const otherIp = opensslVerify(server, 'sslserver', ['-verify_ip', '127.0.0.2']);
    expect(otherIp.ok).toBe(false);
    expect(otherIp.output).toContain('IP address mismatch');
    const otherName = opensslVerify(server, 'sslserver', ['-verify_hostname', 'other.example.org']);
    expect(otherName.output).toContain('hostname mismatch');
    const asClient = opensslVerify(server, 'sslclient');
    expect(asClient.ok).toBe(false);
    expect(asClient.output).toContain('unsuitable certificate purpose');
    const both = pki.issue('both.example.org', { extendedKeyUsage: ['serverAuth', 'clientAuth'] });
    expect(opensslVerify(both, 'sslclient').ok).toBe(true);
    expect(opensslVerify(both, 'sslserver').ok).toBe(true);
  });

  it('serves TLS on 127.0.0.1 to a client that checks the address against the SAN', async () => {
    const good = await listen(server);
    const dnsOnly = await listen(
      pki.issue('dns-only.example.org', { subjectAltName: { dns: ['localhost'] } }),
    );
    try {
      expect(await handshake(good.port)).toEqual({ ok: true, data: 'hello' });
      expect(await handshake(dnsOnly.port)).toEqual({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      expect(await handshake(dnsOnly.port, { servername: 'localhost' })).toEqual({ ok: true, data: 'hello' });
    } finally {
      good.close();
      dnsOnly.close();
    }
  });

  it('authenticates a TLS client by a clientAuth certificate, not by a serverAuth one', async () => {
    const tlsServer = await listen(server, pki.root.certificatePem);
    try {
      const client = pki.issue('Worker Node', { ou: 'hosts', extendedKeyUsage: ['clientAuth'] });
      expect(await handshake(tlsServer.port, { client })).toEqual({ ok: true, data: 'hello' });
      expect(await handshake(tlsServer.port, { client: server })).toEqual({
        ok: true,
        data: 'refused: INVALID_PURPOSE',
      });
    } finally {
      tlsServer.close();
    }
  });
});
