// add container-image against a real docker-registry: anonymous and token auth, digest
// computed from the manifest bytes, and every failure (unknown tag, unreachable registry,
// pinned digest that does not match, duplicate) refused with one line.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog } from '@trustswarm/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, expectOneLineError, type Sandbox, sandbox } from './helpers.js';
import {
  freePort,
  pushTestImage,
  type Registry,
  startRegistry,
  startTokenService,
  type TokenService,
} from './registry-fixture.js';

let box: Sandbox;
let open: Registry;
let guarded: Registry;
let tokens: TokenService;

function manifestDigest(host: string, repoTag: string): string {
  // The open registry needs no token, so a synchronous call is fine here.
  const out = execFileSync('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${host}/${repoTag}`,
  ]);
  return `sha256:${createHash('sha256').update(out).digest('hex')}`;
}

beforeAll(async () => {
  ensureBuilt();
  box = sandbox();
  open = await startRegistry(join(box.dir, 'open'));
  tokens = await startTokenService(box.dir, 'test-registry');
  guarded = await startRegistry(join(box.dir, 'guarded'), {
    service: 'test-registry',
    realm: tokens.url,
    certPath: tokens.certPath,
  });
  await pushTestImage(box.dir, open.host, 'cms/analysis:1.0', 'open image');
  await pushTestImage(box.dir, guarded.host, 'atlas/reco:2.0', 'guarded image');
  expect((await box.run(['catalog', 'new', 'containers'])).exitCode).toBe(0);
}, 120_000);

afterAll(async () => {
  await open?.stop();
  await guarded?.stop();
  await tokens?.close();
  box.cleanup();
});

const catalog = () => parseCatalog(readFileSync(join(box.dir, 'catalog.yaml')));

describe('add container-image', () => {
  it('resolves the manifest digest anonymously', async () => {
    const r = await box.run([
      '--json',
      'add',
      'container-image',
      `${open.host}/cms/analysis:1.0`,
      '--insecure',
      '--repository',
      'unpacked.example.org',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const entry = catalog().entries.find((e) => e.name === 'analysis');
    expect(entry?.oci).toEqual({
      reference: `${open.host}/cms/analysis:1.0`,
      digest: manifestDigest(open.host, 'cms/analysis:1.0'),
    });
    expect(entry?.cvmfs).toEqual({
      repository: 'unpacked.example.org',
      path: `/${open.host}/cms/analysis:1.0`,
    });
  });

  it('gets a bearer token when the registry asks for one', async () => {
    const r = await box.run(
      [
        '--json',
        'add',
        'container-image',
        `${guarded.host}/atlas/reco:2.0`,
        '--repository',
        'unpacked.example.org',
      ],
      {
        env: { TSW_ENDORSE_REGISTRY_INSECURE_HOSTS: guarded.host },
      },
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(tokens.requests.some((q) => q.includes('scope=repository%3Aatlas%2Freco%3Apull'))).toBe(true);
    const entry = catalog().entries.find((e) => e.name === 'reco');
    expect(entry?.oci?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses a duplicate, an unknown tag, a wrong pinned digest and an unreachable registry', async () => {
    const version = catalog().version;
    expectOneLineError(
      await box.run([
        'add',
        'container-image',
        `${open.host}/cms/analysis:1.0`,
        '--insecure',
        '--repository',
        'unpacked.example.org',
      ]),
      1,
      /already in the catalog/,
    );
    expectOneLineError(
      await box.run([
        'add',
        'container-image',
        `${open.host}/cms/analysis:9.9`,
        '--insecure',
        '--repository',
        'unpacked.example.org',
      ]),
      5,
      /no such image \(404\)/,
    );
    expectOneLineError(
      await box.run([
        'add',
        'container-image',
        `${open.host}/cms/analysis:1.0@sha256:${'a'.repeat(64)}`,
        '--entry-version',
        'pinned',
        '--insecure',
        '--repository',
        'unpacked.example.org',
      ]),
      3,
      /not the pinned sha256:a{64}/,
    );
    const port = await freePort();
    expectOneLineError(
      await box.run([
        'add',
        'container-image',
        `127.0.0.1:${port}/x/y:1`,
        '--insecure',
        '--repository',
        'unpacked.example.org',
      ]),
      5,
      /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
    expectOneLineError(
      await box.run(['add', 'container-image', 'UPPER/Case', '--repository', 'unpacked.example.org']),
      2,
      /bad repository name/,
    );
    expect(catalog().version).toBe(version);
  });
});
