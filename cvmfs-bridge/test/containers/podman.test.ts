// The optional podman additional image store: images.json / layers.json in containers/storage's
// format, overlay/<chainid>/diff symlinks into the layers' layerfs, and its cleanup on removal
// and GC; then real podman (Debian's, with runc) lists and runs the image from that store
// copied out of the published revision.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultContainerConfig } from '../../src/containers/config.js';
import { convertImage } from '../../src/containers/convert.js';
import { collectContainerGarbage } from '../../src/containers/gc.js';
import { ContainerLayout } from '../../src/containers/layout.js';
import { chainIds } from '../../src/containers/manifest.js';
import { removeImage } from '../../src/containers/remove.js';
import type { RepositoryReader } from '../../src/reader/reader.js';
import { createTestRepo, type TestRepo, tempDir } from '../helpers.js';
import { exportTree } from './export.js';
import { gzipLayer, pushRaw } from './images.js';
import { type RunningRegistry, startRegistry } from './registry.js';

describe('podman additional image store', () => {
  let work: string;
  let registry: RunningRegistry;
  let t: TestRepo;
  const config = defaultContainerConfig({ podmanStore: true });
  const layout = new ContainerLayout('/');

  beforeAll(async () => {
    work = tempDir('tsw-containers-podman-');
    registry = await startRegistry({ dir: join(work, 'registry') });
    t = createTestRepo({}, 'podman.test.org');
  });

  afterAll(async () => {
    await registry?.stop();
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const json = async <T>(reader: RepositoryReader, path: string) =>
    JSON.parse((await reader.readFile(path)).toString()) as T;

  it('writes images.json, layers.json and overlay diff links, and cleans them up', async () => {
    const base = await gzipLayer([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os', content: 'tsw\n' },
    ]);
    const top = await gzipLayer([{ name: 'app', content: 'app\n' }]);
    await pushRaw(registry.url, 'pod/img', 'v1', [base, top]);
    const result = await convertImage({ reference: `${registry.host}/pod/img:v1` }, { repo: t.repo, config });
    const ids = chainIds([base.diffId, top.diffId]).map((c) => c.slice(7));
    let reader = await t.reader();
    try {
      const images = await json<{ id: string; names: string[]; layer: string }[]>(
        reader,
        '/podmanStore/overlay-images/images.json',
      );
      expect(images).toHaveLength(1);
      expect(images[0]).toMatchObject({
        id: result.configDigest.slice(7),
        names: [`${registry.host}/pod/img:v1`],
        layer: ids[1],
      });
      const layers = await json<{ id: string; parent?: string; 'diff-digest': string }[]>(
        reader,
        '/podmanStore/overlay-layers/layers.json',
      );
      expect(layers.map((l) => [l.id, l.parent])).toEqual([
        [ids[0], undefined],
        [ids[1], ids[0]],
      ]);
      expect(layers[1]?.['diff-digest']).toBe(top.diffId);
      const diff = await reader.lookup(`/podmanStore/overlay/${ids[1]}/diff`);
      expect(diff?.kind).toBe('symlink');
      const layerDigest = (
        await json<{ layers: { digest: string }[] }>(
          reader,
          `/.metadata/${registry.host}/pod/img:v1/manifest.json`,
        )
      ).layers[1]?.digest as string;
      expect(diff?.symlink).toBe(
        `../../../.layers/${layerDigest.slice(7, 9)}/${layerDigest.slice(7)}/layerfs`,
      );
      expect((await reader.readFile(`${layout.layerfs(layerDigest)}/app`)).toString()).toBe('app\n');
      expect((await reader.readFile(`/podmanStore/overlay/${ids[1]}/lower`)).toString()).toBe(
        `l/${ids[0]?.slice(0, 26).toUpperCase()}`,
      );
      const manifestFile = `/podmanStore/overlay-images/${images[0]?.id}/manifest`;
      expect((await reader.readFile(manifestFile)).length).toBeGreaterThan(0);
    } finally {
      reader.close();
    }
    await removeImage(`${registry.host}/pod/img:v1`, { repo: t.repo, config });
    await collectContainerGarbage(t.repo, { config, graceSeconds: 0 });
    reader = await t.reader();
    try {
      expect(await json(reader, '/podmanStore/overlay-images/images.json')).toEqual([]);
      expect(await json(reader, '/podmanStore/overlay-layers/layers.json')).toEqual([]);
      expect(await reader.lookup(`/podmanStore/overlay/${ids[1]}`)).toBeUndefined();
    } finally {
      reader.close();
    }
  });

  it('podman runs the image from the store copied out of the published revision', async () => {
    // A minimal dynamically linked rootfs: /bin/cat with its loader and libc from this machine.
    const base = await gzipLayer([
      { name: 'bin/cat', content: readFileSync('/bin/cat'), mode: 0o755 },
      {
        name: 'lib64/ld-linux-x86-64.so.2',
        content: readFileSync('/lib64/ld-linux-x86-64.so.2'),
        mode: 0o755,
      },
      {
        name: 'lib/x86_64-linux-gnu/libc.so.6',
        content: readFileSync('/lib/x86_64-linux-gnu/libc.so.6'),
        mode: 0o755,
      },
    ]);
    const top = await gzipLayer([{ name: 'app', content: 'hello from cvmfs\n' }]);
    await pushRaw(registry.url, 'pod/run', 'v1', [base, top]);
    await convertImage({ reference: `${registry.host}/pod/run:v1` }, { repo: t.repo, config });
    const exported = join(work, 'export');
    const reader = await t.reader();
    try {
      await exportTree(reader, '/podmanStore', join(exported, 'podmanStore'));
      await exportTree(reader, '/.layers', join(exported, '.layers'));
    } finally {
      reader.close();
    }
    // runc + cgroupfs: this sandbox's hybrid cgroup layout is refused by crun.
    const podman = (...args: string[]) =>
      execFileSync(
        'podman',
        [
          '--root',
          join(work, 'podman-root'),
          '--runroot',
          join(work, 'podman-run'),
          '--storage-driver',
          'overlay',
          '--storage-opt',
          `additionalimagestore=${join(exported, 'podmanStore')}`,
          '--cgroup-manager',
          'cgroupfs',
          '--runtime',
          'runc',
          ...args,
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
    expect(podman('images', '--format', '{{.Repository}}:{{.Tag}} {{.ReadOnly}}')).toContain(
      `${registry.host}/pod/run:v1 true`,
    );
    const out = podman(
      'run',
      '--rm',
      '--network=none',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=1024:1024',
      `${registry.host}/pod/run:v1`,
      '/bin/cat',
      '/app',
    );
    expect(out).toBe('hello from cvmfs\n');
  });
});
