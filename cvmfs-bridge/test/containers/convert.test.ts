// Conversion against real components: images built with umoci and pushed with skopeo into a
// real docker-registry; every flat tree read back through the CVMFS reader must equal
// `umoci unpack` of the same image (paths, types, modes, owners, symlink targets, contents).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultContainerConfig } from '../../src/containers/config.js';
import { convertImage } from '../../src/containers/convert.js';
import type { ProgressEvent } from '../../src/containers/events.js';
import { verifyRevision } from '../../src/reader/verify-all.js';
import { createTestRepo, type TestRepo, tempDir } from '../helpers.js';
import { type BuiltImages, buildTestImages, unpackReference } from './fixture.js';
import { diffSnapshots, makeTar, run, skopeoPush, snapshotCvmfs, snapshotDir } from './images.js';
import { type RunningRegistry, startRegistry } from './registry.js';

describe('container images into CVMFS, checked against umoci unpack', () => {
  let work: string;
  let registry: RunningRegistry;
  let zstdRegistry: RunningRegistry;
  let images: BuiltImages;
  let t: TestRepo;
  const config = defaultContainerConfig();

  beforeAll(async () => {
    work = tempDir('tsw-containers-');
    [registry, zstdRegistry, images] = await Promise.all([
      startRegistry({ dir: join(work, 'registry') }),
      startRegistry({ dir: join(work, 'registry-zstd') }),
      buildTestImages(work),
    ]);
    for (const tag of [...images.tags, images.sharedBaseTag])
      skopeoPush(images.layout, tag, `${registry.host}/test/img:${tag}`);
    // skopeo recompresses only uncompressed layers: decompress into a second layout first; a
    // second registry keeps skopeo from reusing the gzip blobs it knows the first one has.
    const plain = join(work, 'plain');
    run('skopeo', [
      'copy',
      '--quiet',
      '--dest-decompress',
      '--dest-oci-accept-uncompressed-layers',
      `oci:${images.layout}:two`,
      `oci:${plain}:two`,
    ]);
    skopeoPush(plain, 'two', `${zstdRegistry.host}/test/zstd:two`, ['--dest-compress-format', 'zstd']);
    t = createTestRepo({}, 'containers.test.org');
  });

  afterAll(async () => {
    await registry?.stop();
    await zstdRegistry?.stop();
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function expectLikeUmoci(flatPath: string, tag: string, repo: TestRepo = t) {
    const expected = snapshotDir(
      unpackReference(images.layout, tag, join(work, `unpack-${tag}-${Date.now()}`)),
    );
    // Documented policy: setuid/setgid bits are stripped (CVMFS mounts nosuid anyway).
    const suid = expected.get('usr/bin/suid');
    if (suid) suid.mode &= ~0o6000;
    const reader = await repo.reader();
    try {
      const actual = await snapshotCvmfs(reader, flatPath);
      expect(diffSnapshots(expected, actual)).toEqual([]);
      expect(expected.size).toBeGreaterThan(20);
    } finally {
      reader.close();
    }
  }

  it('converts tag "one" (two umoci layers with whiteouts) exactly as umoci unpacks it', async () => {
    const events: ProgressEvent[] = [];
    const result = await convertImage(
      { reference: `${registry.host}/test/img:one` },
      { repo: t.repo, config, onEvent: (e) => events.push(e) },
    );
    expect(result.changed).toBe(true);
    expect(result.layersIngested).toBe(2);
    expect(result.chainsBuilt).toBe(1); // chain of layer 1; the whole chain is the flat tree
    await expectLikeUmoci(result.flatPath, 'one');
    const reader = await t.reader();
    try {
      const link = await reader.lookup(result.publicPath);
      expect(link?.kind).toBe('symlink');
      expect(link?.symlink).toBe(
        `../../.flat/${result.configDigest.slice(7, 9)}/${result.configDigest.slice(7)}`,
      );
      const env = (
        await reader.readFile(`${result.flatPath}/.singularity.d/env/10-docker2singularity.sh`)
      ).toString();
      expect(env).toContain(`export GREETING='hello world'`);
      // The script as a shell runs it: the image value when unset, the host's value otherwise.
      const envFile = join(work, 'env.sh');
      writeFileSync(envFile, env);
      const sh = (preset: NodeJS.ProcessEnv) =>
        execFileSync('/bin/sh', ['-c', `. ${envFile}; printf %s "$GREETING|$PATH"`], {
          env: { ...preset },
          encoding: 'utf8',
        });
      expect(sh({ PATH: '/host/bin' })).toBe("hello world|/opt/app/bin:/usr/bin:/bin's");
      expect(sh({ PATH: '/host/bin', GREETING: 'from host' }).split('|')[0]).toBe('from host');
      const runscript = (await reader.readFile(`${result.flatPath}/.singularity.d/runscript`)).toString();
      expect(runscript).toContain(`set -- '/usr/bin/tool' 'GREETING'`);
      const meta = JSON.parse(
        (await reader.readFile(`/.metadata/${registry.host}/test/img:one/image.json`)).toString(),
      );
      expect(meta.digest).toBe(result.digest);
      expect(meta.chainIds).toHaveLength(2);
      const report = await verifyRevision(reader);
      expect(report.objectsChecked).toBeGreaterThan(0);
    } finally {
      reader.close();
    }
    const kinds = events.map((e) => e.event);
    for (const k of [
      'image.start',
      'layer.start',
      'layer.end',
      'chain.end',
      'flat.end',
      'publish.end',
      'image.end',
    ])
      expect(kinds).toContain(k);
  });

  it('converts tag "two" (hand-made opaque whiteout) reusing the cached chain: only the new layer is fetched', async () => {
    const events: ProgressEvent[] = [];
    const result = await convertImage(
      { reference: `${registry.host}/test/img:two` },
      { repo: t.repo, config, onEvent: (e) => events.push(e) },
    );
    // Chain 1 is cached; chain 2 (the flat tree of "one") is rebuilt from cached layer 2.
    expect(result.layersIngested).toBe(1);
    expect(result.chainsBuilt).toBe(1);
    expect(events.filter((e) => e.event === 'chain.cached')).toHaveLength(1);
    expect(events.filter((e) => e.event === 'layer.cached')).toHaveLength(1);
    await expectLikeUmoci(result.flatPath, 'two');
    const reader = await t.reader();
    try {
      expect((await reader.list(`${result.flatPath}/opt/app`)).map((d) => d.name)).toEqual(['z']);
    } finally {
      reader.close();
    }
  });

  it('converts tag "three" (all but its top layer shared with "two"): base copied while the top layer streams in', async () => {
    const events: ProgressEvent[] = [];
    const result = await convertImage(
      { reference: `${registry.host}/test/img:three` },
      { repo: t.repo, config, onEvent: (e) => events.push(e) },
    );
    expect(result.layersIngested).toBe(1);
    expect(result.chainsBuilt).toBe(0);
    expect(events.filter((e) => e.event === 'chain.cached')).toHaveLength(2);
    // The flat tree starts (base copy) before the top layer's ingest ends.
    const kinds = events.map((e) => e.event);
    expect(kinds.indexOf('flat.start')).toBeLessThan(kinds.indexOf('layer.end'));
    await expectLikeUmoci(result.flatPath, 'three');
    const reader = await t.reader();
    try {
      const report = await verifyRevision(reader);
      expect(report.objectsChecked).toBeGreaterThan(0);
    } finally {
      reader.close();
    }
  });

  it('does nothing (no new revision) when the tag already points at the image', async () => {
    const before = t.repo.manifest().revision;
    const result = await convertImage(
      { reference: `${registry.host}/test/img:two` },
      { repo: t.repo, config },
    );
    expect(result.changed).toBe(false);
    expect(t.repo.manifest().revision).toBe(before);
  });

  it('copies a base chain that publishing split into nested catalogs (a tag on it still equals umoci unpack)', async () => {
    // A base layer of 240 entries in a repository whose catalogs hold at most 100: publishing
    // the first image splits the layer, chain and flat catalogs (.cvmfsautocatalog), so the
    // second tag's base copy has to follow the nested catalogs of the cached chain.
    const layout = join(work, 'split');
    run('umoci', ['init', '--layout', layout]);
    run('umoci', ['new', '--image', `${layout}:empty`]);
    const members = ['a', 'b', 'c'].flatMap((dir) => [
      { name: `${dir}/`, type: 'directory' as const },
      ...Array.from({ length: 79 }, (_, i) => ({ name: `${dir}/f${i}`, content: `${dir}${i}\n` })),
    ]);
    const baseTar = join(work, 'split-base.tar');
    writeFileSync(baseTar, await makeTar(members));
    run('umoci', ['raw', 'add-layer', '--image', `${layout}:empty`, '--tag', 'base', baseTar]);
    for (const [tag, file] of [
      ['first', 'b/.wh.f3'],
      ['second', 'c/new'],
    ] as const) {
      const top = join(work, `split-${tag}.tar`);
      writeFileSync(top, await makeTar([{ name: file, content: `${tag}\n` }]));
      run('umoci', ['raw', 'add-layer', '--image', `${layout}:base`, '--tag', tag, top]);
      skopeoPush(layout, tag, `${registry.host}/test/split:${tag}`);
    }
    const small = createTestRepo({ maxCatalogEntries: 100 }, 'split.test.org');
    try {
      await convertImage({ reference: `${registry.host}/test/split:first` }, { repo: small.repo, config });
      const events: ProgressEvent[] = [];
      const second = await convertImage(
        { reference: `${registry.host}/test/split:second` },
        { repo: small.repo, config, onEvent: (e) => events.push(e) },
      );
      expect(events.filter((e) => e.event === 'chain.cached')).toHaveLength(1);
      const reader = await small.reader();
      try {
        // The cached base chain really spans nested catalogs.
        const chain = (await reader.list(second.flatPath.replace(/\.flat\/.*$/, '.chains'))).map(
          (d) => d.name,
        );
        expect(chain).toHaveLength(1);
        const chainDir = `${second.flatPath.replace(/\.flat\/.*$/, '.chains')}/${chain[0]}`;
        const [chainId] = await reader.list(chainDir);
        const names = (await reader.list(`${chainDir}/${chainId?.name}/a`)).map((d) => d.name);
        expect(names).toContain('.cvmfsautocatalog');
      } finally {
        reader.close();
      }
      const expected = snapshotDir(unpackReference(layout, 'second', join(work, 'unpack-split')));
      const reader2 = await small.reader();
      try {
        // This flat tree is split at publish too: its markers are the repository's, not the image's.
        const actual = await snapshotCvmfs(reader2, second.flatPath);
        for (const path of [...actual.keys()]) if (path.endsWith('/.cvmfsautocatalog')) actual.delete(path);
        expect(diffSnapshots(expected, actual)).toEqual([]);
        expect(expected.size).toBe(241);
      } finally {
        reader2.close();
      }
    } finally {
      small.cleanup();
    }
  });

  it('reads zstd-compressed layers (skopeo --dest-compress-format zstd) into the same tree', async () => {
    const other = createTestRepo({}, 'zstd.test.org');
    try {
      const events: ProgressEvent[] = [];
      const result = await convertImage(
        { reference: `${zstdRegistry.host}/test/zstd:two` },
        { repo: other.repo, config, onEvent: (e) => events.push(e) },
      );
      const compressions = events.flatMap((e) => (e.event === 'layer.end' ? [e.compression] : []));
      expect(compressions).toContain('zstd');
      await expectLikeUmoci(result.flatPath, 'two', other);
    } finally {
      other.cleanup();
    }
  });
});
