// Token authentication against a real docker-registry configured with `auth: token`: a small
// token server (RS256 JWTs with an x5c certificate the registry trusts) that wants Basic
// credentials; the client must follow the Bearer challenge and fail closed without them.

import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultContainerConfig } from '../../src/containers/config.js';
import { convertImage } from '../../src/containers/convert.js';
import { createTestRepo, type TestRepo, tempDir } from '../helpers.js';
import { gzipLayer, pushRaw } from './images.js';
import { type RunningRegistry, startRegistry } from './registry.js';

const SERVICE = 'tsw-test-registry';
const ISSUER = 'tsw-test-issuer';
const USER = 'puller';
const PASSWORD = 'correct horse battery staple';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

describe('registry token authentication', () => {
  let work: string;
  let registry: RunningRegistry;
  let tokenServer: Server;
  let t: TestRepo;
  let keyPem: string;
  let certDer: Buffer;

  function token(scope: string): string {
    const [, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: ISSUER,
      sub: USER,
      aud: SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: [{ type: 'repository', name, actions: (actions ?? 'pull').split(',') }],
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(keyPem);
    return `${input}.${b64url(signature)}`;
  }

  beforeAll(async () => {
    work = tempDir('tsw-containers-auth-');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=tsw-token-signer',
        '-keyout',
        join(work, 'key.pem'),
        '-out',
        join(work, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    keyPem = readFileSync(join(work, 'key.pem'), 'utf8');
    certDer = execFileSync('openssl', ['x509', '-in', join(work, 'cert.pem'), '-outform', 'DER']);
    tokenServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: token(url.searchParams.get('scope') ?? ''), expires_in: 300 }));
    });
    await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', () => r()));
    const port = (tokenServer.address() as { port: number }).port;
    registry = await startRegistry({
      dir: join(work, 'registry'),
      tokenAuth: {
        realm: `http://127.0.0.1:${port}/token`,
        service: SERVICE,
        issuer: ISSUER,
        rootCertBundle: join(work, 'cert.pem'),
      },
    });
    const layer = await gzipLayer([{ name: 'secret-app', content: 'behind auth\n' }]);
    await pushRaw(registry.url, 'auth/img', 'v1', [layer], {
      authorization: `Bearer ${token('repository:auth/img:pull,push')}`,
    });
    t = createTestRepo({}, 'auth.test.org');
  });

  afterAll(async () => {
    await registry?.stop();
    await new Promise<void>((r) => (tokenServer ? tokenServer.close(() => r()) : r()));
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('follows the Bearer challenge with Basic credentials at the token realm', async () => {
    const config = defaultContainerConfig({
      registryCredentials: { [registry.host]: { username: USER, password: PASSWORD } },
    });
    const result = await convertImage(
      { reference: `${registry.host}/auth/img:v1` },
      { repo: t.repo, config },
    );
    const reader = await t.reader();
    try {
      expect((await reader.readFile(`${result.flatPath}/secret-app`)).toString()).toBe('behind auth\n');
    } finally {
      reader.close();
    }
  });

  it('fails closed without credentials or with a wrong password', async () => {
    const before = t.repo.manifest().revision;
    for (const config of [
      defaultContainerConfig(),
      defaultContainerConfig({
        registryCredentials: { [registry.host]: { username: USER, password: 'wrong' } },
      }),
    ]) {
      await expect(
        convertImage({ reference: `${registry.host}/auth/img:v1` }, { repo: t.repo, config }),
      ).rejects.toMatchObject({
        code: 'AUTH_FAILED',
      });
    }
    expect(t.repo.manifest().revision).toBe(before);
  });
});
