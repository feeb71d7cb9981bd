// The optional podman additional image store: images.json / layers.json in containers/storage's
// format, overlay/<chainid>/diff symlinks into the layers' layerfs, and its cleanup on removal
// and GC. (podman itself is not installed here: the structure is checked, not a `podman run`.)
import { rmSync } from 'node:fs';
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
});
