// publish against a real HTTP server implementing the catalog API contract: everything
// arrives intact, an interrupted upload resumes from the server's offset, and nothing is
// sent for an unsigned or tampered catalog; server errors and an unreachable server fail
// with one line and exit 5.

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog } from '@trustswarm/policy';
import { createTestPki, type TestPki } from '@trustswarm/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeServer, startFakeCatalogServer } from './catalog-server-fixture.js';
import { ensureBuilt, expectOneLineError, type Sandbox, sandbox } from './helpers.js';
import { freePort } from './registry-fixture.js';

let box: Sandbox;
let pki: TestPki;
let server: FakeServer;
const TOKEN = 'good-token';
let env: Record<string, string>;
const MiB = 1024 * 1024;

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  pki = await createTestPki(join(box.dir, 'pki'));
  server = await startFakeCatalogServer(join(box.dir, 'server'), TOKEN, pki.anchors);
  env = {
    TSW_ENDORSE_SERVER_TOKEN: TOKEN,
    TSW_ENDORSE_VERIFY_CA_PATH: pki.caPathDir,
    TSW_ENDORSE_SERVER_URL: server.url,
  };
  const { alice } = pki.endorsers;
  env.TSW_ENDORSE_IDENTITY_CERT_FILE = alice.certPath;
  env.TSW_ENDORSE_IDENTITY_KEY_FILE = alice.keyPath;
  expect((await box.run(['catalog', 'new', 'pub'], { env })).exitCode).toBe(0);
  writeFileSync(join(box.dir, 'big.img'), Buffer.alloc(6 * MiB + 5, 3));
  writeFileSync(join(box.dir, 'small.img'), Buffer.from('small image'));
  expect((await box.run(['add', 'image', 'big.img'], { env })).exitCode).toBe(0);
  expect((await box.run(['add', 'image', 'small.img'], { env })).exitCode).toBe(0);
});
afterAll(async () => {
  await server?.close();
  box.cleanup();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('publish', () => {
  it('refuses an unsigned catalog and sends nothing', async () => {
    const r = await box.run(['publish'], { env });
    expectOneLineError(r, 1, /no signature: run 'tsw-endorse sign'/);
    expect(server.requests).toEqual([]);
  });

  it('refuses a catalog changed after signing and sends nothing', async () => {
    expect((await box.run(['sign'], { env })).exitCode).toBe(0);
    const path = join(box.dir, 'catalog.yaml');
    const original = readFileSync(path);
    appendFileSync(path, '# sneaky\n');
    try {
      expectOneLineError(await box.run(['publish'], { env }), 3, /refusing to publish: .*DIGEST_MISMATCH/);
      expect(server.requests).toEqual([]);
    } finally {
      writeFileSync(path, original);
    }
  });

  it('uploads torrents, artifacts and the signed catalog; resumes a dropped upload', async () => {
    server.dropNextPatchAfterBytes = 2 * MiB;
    const r = await box.run(['--json', 'publish'], { env });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const catalog = parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));
    for (const e of catalog.entries) {
      const stored = readFileSync(join(server.dir, 'artifacts', e.artifact?.sha256 ?? ''));
      expect(sha256(stored)).toBe(e.artifact?.sha256);
      expect(existsSync(join(server.dir, 'torrents', `${e.artifact?.infoHash}.torrent`))).toBe(true);
    }
    const patches = server.requests.filter((q) => q.method === 'PATCH');
    // big.img: first PATCH dropped after 2 MiB, the second starts where the server stopped.
    expect(patches[0]?.offset).toBe('0');
    expect(Number(patches[1]?.offset)).toBeGreaterThanOrEqual(2 * MiB - 64 * 1024);
    expect(Number(patches[1]?.offset)).toBeLessThanOrEqual(2 * MiB);
    const stored = readFileSync(
      join(server.dir, 'catalogs', catalog.id, String(catalog.version), 'catalog.yaml'),
    );
    expect(stored.equals(readFileSync(join(box.dir, 'catalog.yaml')))).toBe(true);
    // The catalog goes last, after every byte it names.
    expect(server.requests[server.requests.length - 1]?.path).toBe('/api/v1/catalogs');
    const data = r.json() as { artifacts: Array<{ attempts: number }> };
    expect(data.artifacts[0]?.attempts).toBe(2);
  });

  it('is idempotent: a second publish skips stored artifacts', async () => {
    const before = server.requests.length;
    const r = await box.run(['--json', 'publish'], { env });
    expect(r.exitCode).toBe(0);
    const after = server.requests.slice(before);
    expect(after.some((q) => q.method === 'PATCH')).toBe(false);
    expect((r.json().catalog as { status: number }).status).toBe(200);
  });

  it('a second endorser adds their signature to the published version', async () => {
    const { bob } = pki.endorsers;
    expect((await box.run(['--cert', bob.certPath, '--key', bob.keyPath, 'sign'], { env })).exitCode).toBe(0);
    const r = await box.run(['--json', 'publish', '--skip-artifacts'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json().signaturesAdded).toEqual([`${bob.certificate.sha256}.p7s`]);
    const catalog = parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));
    const sigDir = join(server.dir, 'catalogs', catalog.id, String(catalog.version), 'signatures');
    expect(readdirSync(sigDir).sort()).toEqual(
      [`${pki.endorsers.alice.certificate.sha256}.p7s`, `${bob.certificate.sha256}.p7s`].sort(),
    );
  });

  it('another endorser pulls the published version, co-signs it and adds only the signature', async () => {
    const catalog = parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));
    const { carol } = pki.endorsers;
    const carolEnv = {
      ...env,
      TSW_ENDORSE_IDENTITY_CERT_FILE: carol.certPath,
      TSW_ENDORSE_IDENTITY_KEY_FILE: carol.keyPath,
    };
    const ws = join(box.dir, 'carol-ws');
    const pulled = await box.run(['-C', ws, 'pull', catalog.id, String(catalog.version)], { env: carolEnv });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(readFileSync(join(ws, 'catalog.yaml')).equals(readFileSync(join(box.dir, 'catalog.yaml')))).toBe(
      true,
    );
    const verified = await box.run(['-C', ws, 'verify', '--threshold', '2'], { env: carolEnv });
    expect(verified.exitCode, verified.stdout).toBe(0);
    expect((await box.run(['-C', ws, 'sign'], { env: carolEnv })).exitCode).toBe(0);
    const before = server.requests.length;
    const r = await box.run(['--json', '-C', ws, 'publish', '--signatures-only'], { env: carolEnv });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json().signaturesAdded).toEqual([`${carol.certificate.sha256}.p7s`]);
    expect(
      server.requests
        .slice(before)
        .filter((q) => q.method !== 'GET')
        .map((q) => q.method),
    ).toEqual(['POST']);
    // Pulling an unknown version fails cleanly.
    expectOneLineError(await box.run(['-C', ws, 'pull', catalog.id, '999'], { env: carolEnv }), 5, /404/);
  });

  it('reports the server refusing: wrong token, equivocation', async () => {
    expectOneLineError(
      await box.run(['publish'], { env: { ...env, TSW_ENDORSE_SERVER_TOKEN: 'wrong' } }),
      5,
      /401 UNAUTHORISED/,
    );
    // Same id + version, other bytes: rewrite the stored copy to force a conflict.
    const catalog = parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));
    const stored = join(server.dir, 'catalogs', catalog.id, String(catalog.version), 'catalog.yaml');
    appendFileSync(stored, '# other\n');
    expectOneLineError(await box.run(['publish', '--skip-artifacts'], { env }), 5, /409 EQUIVOCATION/);
  });

  it('fails with exit 5 when the server is unreachable', async () => {
    const port = await freePort();
    expectOneLineError(
      await box.run(['publish', '--server', `http://127.0.0.1:${port}`], { env }),
      5,
      /ECONNREFUSED/,
    );
  });

  it('refuses an artifact modified since it was added', async () => {
    utimesSync(join(box.dir, 'small.img'), new Date(), new Date(Date.now() - 1000));
    const other = join(server.dir, 'artifacts');
    expect(existsSync(other)).toBe(true);
    // The server already holds it, but the local copy no longer matches what was hashed.
    expectOneLineError(await box.run(['publish'], { env }), 1, /small\.img changed since it was added/);
  });

  it('needs a token and a server', async () => {
    expectOneLineError(
      await box.run(['publish'], { env: { ...env, TSW_ENDORSE_SERVER_TOKEN: '' } }),
      2,
      /no API token/,
    );
    expectOneLineError(
      await box.run(['publish'], { env: { ...env, TSW_ENDORSE_SERVER_URL: '' } }),
      2,
      /no server/,
    );
  });
});
