// Untrusted images: every refusal of the layer policy and of the digest checks, each proving
// that nothing was published (the repository revision stays where it was). Layers no tool
// would write are pushed through the real registry's API.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContainerConfig, defaultContainerConfig } from '../../src/containers/config.js';
import { convertImage } from '../../src/containers/convert.js';
import type { ContainerErrorCode } from '../../src/containers/errors.js';
import type { ProgressEvent } from '../../src/containers/events.js';
import { createTestRepo, type TestRepo, tempDir } from '../helpers.js';
import { gzipLayer, makeTar, pushRaw, sha256, type TarMember } from './images.js';
import { startTamperProxy, type TamperProxy } from './proxy.js';
import { type RunningRegistry, startRegistry } from './registry.js';

describe('untrusted layers and digests', () => {
  let work: string;
  let registry: RunningRegistry;
  let proxy: TamperProxy;
  let t: TestRepo;

  beforeAll(async () => {
    work = tempDir('tsw-containers-safety-');
    registry = await startRegistry({ dir: join(work, 'registry') });
    proxy = await startTamperProxy(registry.host);
    t = createTestRepo({}, 'safety.test.org');
  });

  afterAll(async () => {
    await proxy?.close();
    await registry?.stop();
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  let counter = 0;
  async function push(layers: TarMember[][], options: Parameters<typeof pushRaw>[4] = {}) {
    const repo = `bad/case${++counter}`;
    const built = await Promise.all(layers.map((l) => gzipLayer(l)));
    const { digest, manifest } = await pushRaw(registry.url, repo, 't', built, options);
    return { reference: `${registry.host}/${repo}:t`, digest, manifest };
  }

  async function expectRefused(
    reference: string,
    code: ContainerErrorCode,
    message: RegExp,
    config: ContainerConfig = defaultContainerConfig(),
    digest?: string,
  ) {
    const before = t.repo.manifest().revision;
    const events: ProgressEvent[] = [];
    await expect(
      convertImage(
        { reference, ...(digest ? { digest } : {}) },
        { repo: t.repo, config, onEvent: (e) => events.push(e) },
      ),
    ).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    expect(t.repo.manifest().revision).toBe(before);
    expect(events.at(-1)).toMatchObject({ event: 'image.error', code });
  }

  it('refuses references whose registry or repository could name the layout itself', async () => {
    for (const reference of [
      '.flat/ab/cd:t',
      '..:5000/x:t',
      'host..x/y:t',
      'reg.example.org/A/b:t',
      'reg.example.org/a/b:t t',
    ])
      await expectRefused(reference, 'BAD_REFERENCE', /bad (registry host|repository name|tag)/);
  });

  it('refuses absolute member names', async () => {
    const { reference } = await push([[{ name: '/etc/evil', content: 'x' }]]);
    await expectRefused(reference, 'LAYER_UNSAFE', /absolute name/);
  });

  it("refuses '..' in member names", async () => {
    const { reference } = await push([[{ name: 'a/../../etc/evil', content: 'x' }]]);
    await expectRefused(reference, 'LAYER_UNSAFE', /'\.\.'/);
  });

  it('refuses writing through a symlink of the same layer', async () => {
    const { reference } = await push([
      [
        { name: 'evil', type: 'symlink', linkname: '/etc' },
        { name: 'evil/passwd', content: 'root::0:0::/:/bin/sh\n' },
      ],
    ]);
    await expectRefused(reference, 'LAYER_UNSAFE', /written through the symlink evil/);
  });

  it('refuses writing through a symlink a lower layer made', async () => {
    const { reference } = await push([
      [{ name: 'lib', type: 'symlink', linkname: '../../../../etc' }],
      [{ name: 'lib/evil.so', content: 'x' }],
    ]);
    await expectRefused(reference, 'LAYER_UNSAFE', /lower layer made a symlink/);
  });

  it('refuses hard links to names that are not earlier regular files of the layer', async () => {
    const { reference } = await push([[{ name: 'x', type: 'link', linkname: 'etc/shadow' }]]);
    await expectRefused(reference, 'LAYER_UNSAFE', /names no earlier regular file/);
    const escaping = await push([[{ name: 'y', type: 'link', linkname: '../../etc/shadow' }]]);
    await expectRefused(escaping.reference, 'LAYER_UNSAFE', /'\.\.'/);
  });

  it('skips device nodes by default and refuses them under devicePolicy=reject', async () => {
    const { reference } = await push([
      [
        { name: 'dev/', type: 'directory' },
        { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
        { name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 },
        { name: 'only/a/device', type: 'character-device', devmajor: 1, devminor: 3 },
        { name: 'ok', content: 'ok\n' },
      ],
    ]);
    await expectRefused(
      reference,
      'LAYER_UNSAFE',
      /device node/,
      defaultContainerConfig({ devicePolicy: 'reject' }),
    );
    const result = await convertImage({ reference }, { repo: t.repo, config: defaultContainerConfig() });
    const reader = await t.reader();
    try {
      expect((await reader.list(`${result.flatPath}/dev`)).map((d) => d.name)).toEqual([]);
      // A skipped device implies no parent directory.
      expect((await reader.list(result.flatPath)).map((d) => d.name)).not.toContain('only');
      expect((await reader.readFile(`${result.flatPath}/ok`)).toString()).toBe('ok\n');
    } finally {
      reader.close();
    }
  });

  it('strips setuid/setgid by default and refuses them under setuidPolicy=reject', async () => {
    const { reference } = await push([[{ name: 'su', content: 'x', mode: 0o6755 }]]);
    await expectRefused(
      reference,
      'LAYER_UNSAFE',
      /setuid/,
      defaultContainerConfig({ setuidPolicy: 'reject' }),
    );
    const result = await convertImage({ reference }, { repo: t.repo, config: defaultContainerConfig() });
    const reader = await t.reader();
    try {
      expect(((await reader.lookup(`${result.flatPath}/su`))?.mode ?? 0) & 0o7777).toBe(0o755);
    } finally {
      reader.close();
    }
  });

  it('stops a decompression bomb at maxLayerUncompressedBytes', async () => {
    const { reference } = await push([[{ name: 'zeros', content: Buffer.alloc(8 * 1024 * 1024) }]]);
    await expectRefused(
      reference,
      'LIMIT_EXCEEDED',
      /larger than 1048576 bytes/,
      defaultContainerConfig({ maxLayerUncompressedBytes: 1024 * 1024 }),
    );
  });

  it('enforces maxLayerBytes, maxLayerEntries and maxPathBytes', async () => {
    const many = await push([Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, content: `${i}` }))]);
    await expectRefused(
      many.reference,
      'LIMIT_EXCEEDED',
      /more than 10 members/,
      defaultContainerConfig({ maxLayerEntries: 10 }),
    );
    await expectRefused(
      many.reference,
      'LIMIT_EXCEEDED',
      /the limit is 64/,
      defaultContainerConfig({ maxLayerBytes: 64 }),
    );
    const deep = await push([[{ name: `${'d/'.repeat(60)}f`, content: 'x' }]]);
    await expectRefused(
      deep.reference,
      'LIMIT_EXCEEDED',
      /longer than 100 bytes/,
      defaultContainerConfig({ maxPathBytes: 100 }),
    );
  });

  it('refuses a layer whose content does not match the DiffID in the config', async () => {
    const layer = await gzipLayer([{ name: 'f', content: 'real' }]);
    const repo = 'bad/diffid';
    await pushRaw(registry.url, repo, 't', [{ blob: layer.blob, diffId: sha256('something else') }]);
    await expectRefused(`${registry.host}/${repo}:t`, 'DIGEST_MISMATCH', /uncompressed.*hashes to/);
  });

  it('refuses a layer blob altered in transit (digest checked while streaming)', async () => {
    const { digest, manifest } = await push([[{ name: 'f', content: Buffer.alloc(64 * 1024, 7) }]]);
    const layerDigest = (JSON.parse(manifest.toString()) as { layers: { digest: string }[] }).layers[0]
      ?.digest;
    const repo = `bad/case${counter}`;
    proxy.tamper = new RegExp(`/blobs/${layerDigest}`);
    try {
      await expectRefused(
        `${proxy.host}/${repo}:t`,
        'DIGEST_MISMATCH',
        /blob sha256:\w+ of .* hashes to/,
        undefined,
        digest,
      );
    } finally {
      proxy.tamper = undefined;
    }
  });

  it('gives up on a blob that stops sending (idle timeout)', async () => {
    const { manifest } = await push([[{ name: 'f', content: Buffer.alloc(256 * 1024, 9) }]]);
    const layerDigest = (JSON.parse(manifest.toString()) as { layers: { digest: string }[] }).layers[0]
      ?.digest;
    const repo = `bad/case${counter}`;
    proxy.stall = new RegExp(`/blobs/${layerDigest}`);
    try {
      await expectRefused(
        `${proxy.host}/${repo}:t`,
        'REGISTRY_FAILED',
        /no data for 1 s/,
        defaultContainerConfig({ requestTimeoutSeconds: 1 }),
      );
    } finally {
      proxy.stall = undefined;
    }
  });

  it('refuses a manifest that does not hash to the approved digest', async () => {
    const { digest } = await push([[{ name: 'f', content: 'x' }]]);
    const repo = `bad/case${counter}`;
    proxy.tamper = /\/manifests\//;
    try {
      await expectRefused(`${proxy.host}/${repo}:t`, 'DIGEST_MISMATCH', /hashes to/, undefined, digest);
    } finally {
      proxy.tamper = undefined;
    }
    await expectRefused(
      `${registry.host}/${repo}:t@${sha256('other')}`,
      'DIGEST_MISMATCH',
      /differs from the approved/,
      undefined,
      digest,
    );
  });

  it('never writes catalog markers from a layer, and reads uncompressed layers', async () => {
    const tar = await makeTar([
      { name: 'app/', type: 'directory' },
      { name: 'app/.cvmfscatalog', content: '' },
      { name: 'app/.cvmfsautocatalog', content: '' },
      { name: 'app/bin', content: '#!/bin/sh\n', mode: 0o755 },
    ]);
    const repo = 'ok/plain';
    await pushRaw(registry.url, repo, 't', [
      { blob: tar, diffId: sha256(tar), mediaType: 'application/vnd.oci.image.layer.v1.tar' },
    ]);
    const events: ProgressEvent[] = [];
    const result = await convertImage(
      { reference: `${registry.host}/${repo}:t` },
      { repo: t.repo, config: defaultContainerConfig(), onEvent: (e) => events.push(e) },
    );
    expect(events.find((e) => e.event === 'layer.end')).toMatchObject({ compression: 'none' });
    const reader = await t.reader();
    try {
      expect((await reader.list(`${result.flatPath}/app`)).map((d) => d.name)).toEqual(['bin']);
    } finally {
      reader.close();
    }
  });

  it('picks the platform from an index (default linux/amd64) and refuses a platform not offered', async () => {
    const repo = 'ok/multi';
    const descriptors = [];
    for (const arch of ['arm64', 'amd64']) {
      const layer = await gzipLayer([{ name: 'arch', content: `${arch}\n` }]);
      const { manifest } = await pushRaw(registry.url, repo, arch, [layer], {
        config: { architecture: arch },
      });
      descriptors.push({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256(manifest),
        size: manifest.length,
        platform: { os: 'linux', architecture: arch },
      });
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: descriptors,
      }),
    );
    const put = await fetch(`${registry.url}/v2/${repo}/manifests/latest`, {
      method: 'PUT',
      body: index,
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
    });
    expect(put.status).toBe(201);
    const reference = `${registry.host}/${repo}:latest`;
    const amdResult = await convertImage(
      { reference, digest: sha256(index) },
      { repo: t.repo, config: defaultContainerConfig() },
    );
    const other = createTestRepo({}, 'arm.test.org');
    try {
      const armResult = await convertImage(
        { reference },
        { repo: other.repo, config: defaultContainerConfig({ platforms: ['linux/arm64'] }) },
      );
      const readers = [await t.reader(), await other.reader()];
      try {
        expect((await readers[0]?.readFile(`${amdResult.flatPath}/arch`))?.toString()).toBe('amd64\n');
        expect((await readers[1]?.readFile(`${armResult.flatPath}/arch`))?.toString()).toBe('arm64\n');
      } finally {
        for (const r of readers) r?.close();
      }
    } finally {
      other.cleanup();
    }
    await expectRefused(
      reference,
      'PLATFORM_NOT_FOUND',
      /linux\/s390x/,
      defaultContainerConfig({ platforms: ['linux/s390x'] }),
    );
  });
});
