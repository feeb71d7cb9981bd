// An additional image store for rootless podman (containers/storage overlay driver layout) in
// the repository: overlay-images/images.json, overlay-layers/layers.json, overlay/<layer>/diff
// as a symlink to the layer's layerfs. Layer IDs are ChainIDs; the image ID is the config digest.
import type { Repository } from '../repo/repository.js';
import type { Transaction } from '../writer/transaction.js';
import type { LayerRecord } from './layer-ingest.js';
import { ContainerLayout } from './layout.js';
import type { ResolvedImage } from './resolve.js';
import { readTxJson, writeTxJson } from './tx-files.js';

interface StoreImage {
  id: string;
  digest: string;
  names: string[];
  layer?: string;
  metadata: string;
  'big-data-names': string[];
  'big-data-sizes': Record<string, number>;
  'big-data-digests': Record<string, string>;
  created: string;
}

interface StoreLayer {
  id: string;
  parent?: string;
  created: string;
  'compressed-diff-digest': string;
  'compressed-size': number;
  'diff-digest': string;
  'diff-size': number;
  compression: number;
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');

/** containers/storage names big-data files by the key, base64 with '=' when it has odd characters. */
function bigDataFile(key: string): string {
  return /^[A-Za-z0-9._-]+$/.test(key) ? key : `=${Buffer.from(key).toString('base64')}`;
}

export async function writePodmanImage(
  tx: Transaction,
  repo: Repository,
  layout: ContainerLayout,
  image: ResolvedImage,
  chainIds: readonly string[],
): Promise<void> {
  const root = layout.areas().podman;
  const now = new Date().toISOString();
  const layersFile = `${root}/overlay-layers/layers.json`;
  const layers = readTxJson<StoreLayer[]>(tx, repo, layersFile) ?? [];
  const known = new Set(layers.map((l) => l.id));
  const lowers: string[] = [];
  for (let k = 0; k < chainIds.length; k++) {
    const id = hex(chainIds[k] as string);
    const layer = image.layers[k] as ResolvedImage['layers'][number];
    const short = id.slice(0, 26).toUpperCase();
    if (!known.has(id)) {
      const record = readTxJson<LayerRecord>(tx, repo, layout.layerRecord(layer.digest));
      layers.push({
        id,
        ...(k > 0 ? { parent: hex(chainIds[k - 1] as string) } : {}),
        created: now,
        'compressed-diff-digest': layer.digest,
        'compressed-size': layer.size,
        'diff-digest': layer.diffId,
        'diff-size': record?.uncompressedBytes ?? 0,
        compression: 2,
      });
      known.add(id);
      const dir = `${root}/overlay/${id}`;
      await tx.addDirectory(dir, { mode: 0o700 });
      await tx.addSymlink(
        `${dir}/diff`,
        ContainerLayout.relativeTarget(`${dir}/diff`, layout.layerfs(layer.digest)),
      );
      await tx.addFile(`${dir}/link`, Buffer.from(short), { mode: 0o644 });
      if (lowers.length > 0)
        await tx.addFile(
          `${dir}/lower`,
          Buffer.from(
            [...lowers]
              .reverse()
              .map((l) => `l/${l}`)
              .join(':'),
          ),
        );
      await tx.addSymlink(`${root}/overlay/l/${short}`, `../${id}/diff`);
    }
    lowers.push(short);
  }
  await writeTxJson(tx, layersFile, layers);

  const imagesFile = `${root}/overlay-images/images.json`;
  const images = (readTxJson<StoreImage[]>(tx, repo, imagesFile) ?? []).map((i) => ({
    ...i,
    names: i.names.filter((n) => n !== image.ref.registry + '/' + image.ref.repository + ':' + image.ref.tag),
  }));
  const id = hex(image.configDigest);
  const name = `${image.ref.registry}/${image.ref.repository}:${image.ref.tag}`;
  const big: Record<string, Buffer> = {
    [`manifest-${image.manifestDigest}`]: image.manifestBytes,
    manifest: image.manifestBytes,
    [image.configDigest]: image.configBytes,
  };
  const existing = images.find((i) => i.id === id);
  const entry: StoreImage = {
    id,
    digest: image.manifestDigest,
    names: [...new Set([...(existing?.names ?? []), name])],
    ...(chainIds.length > 0 ? { layer: hex(chainIds[chainIds.length - 1] as string) } : {}),
    metadata: '{}',
    'big-data-names': Object.keys(big),
    'big-data-sizes': Object.fromEntries(Object.entries(big).map(([k, v]) => [k, v.length])),
    'big-data-digests': {
      [`manifest-${image.manifestDigest}`]: image.manifestDigest,
      manifest: image.manifestDigest,
      [image.configDigest]: image.configDigest,
    },
    created: now,
  };
  const kept = images.filter((i) => i.id !== id && i.names.length > 0);
  await writeTxJson(tx, imagesFile, [...kept, entry]);
  for (const [key, bytes] of Object.entries(big))
    await tx.addFile(`${root}/overlay-images/${id}/${bigDataFile(key)}`, bytes, { mode: 0o600 });
}

/** Drops a tag from the store's images; images left without names are removed. */
export async function removePodmanName(
  tx: Transaction,
  repo: Repository,
  layout: ContainerLayout,
  name: string,
) {
  const imagesFile = `${layout.areas().podman}/overlay-images/images.json`;
  const images = readTxJson<StoreImage[]>(tx, repo, imagesFile);
  if (!images) return;
  const next: StoreImage[] = [];
  for (const i of images) {
    const names = i.names.filter((n) => n !== name);
    if (names.length > 0) next.push({ ...i, names });
    else await tx.remove(`${layout.areas().podman}/overlay-images/${i.id}`);
  }
  await writeTxJson(tx, imagesFile, next);
}
