// A real OCI registry for tests: Debian's docker-registry on 127.0.0.1, optionally with
// token auth served by a small token service of the test (JWT RS256 with an x5c header,
// as distribution's token auth expects), and skopeo + umoci to push a real image.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export interface TokenService {
  url: string;
  certPath: string;
  requests: string[];
  close(): Promise<void>;
}

/** Issues pull+push tokens to anyone, signed with a self-signed certificate (x5c). */
export async function startTokenService(dir: string, service: string): Promise<TokenService> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    keyPath,
    '-subj',
    '/CN=token-issuer',
    '-days',
    '2',
    '-out',
    certPath,
  ]);
  const certDer = execFileSync('openssl', ['x509', '-in', certPath, '-outform', 'DER']);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.search);
    const scope = url.searchParams.get('scope') ?? '';
    const [, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: 'test-issuer',
      sub: '',
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: name ? [{ type: 'repository', name, actions: (actions ?? 'pull').split(',') }] : [],
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(privateKey);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ token: `${input}.${b64url(signature)}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/token`,
    certPath,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface Registry {
  host: string;
  stop(): Promise<void>;
}

export async function startRegistry(
  dir: string,
  token?: { service: string; realm: string; certPath: string },
): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const auth = token
    ? `auth:\n  token:\n    realm: ${token.realm}\n    service: ${token.service}\n    issuer: test-issuer\n    rootcertbundle: ${token.certPath}\n`
    : '';
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * Builds a one-file image with umoci and pushes it with skopeo. Asynchronous on purpose:
 * the token service runs in this process and must answer while skopeo waits.
 */
export async function pushTestImage(
  dir: string,
  host: string,
  repoTag: string,
  content: string,
): Promise<void> {
  const layout = join(dir, `layout-${randomUUID().slice(0, 8)}`);
  const rootfs = join(dir, `file-${randomUUID().slice(0, 8)}`);
  writeFileSync(rootfs, content);
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', `${layout}:t`]);
  execFileSync('umoci', ['insert', '--image', `${layout}:t`, rootfs, '/content']);
  await execa(
    'skopeo',
    ['copy', '--dest-tls-verify=false', `oci:${layout}:t`, `docker://${host}/${repoTag}`],
    {
      timeout: 60_000,
    },
  );
}
