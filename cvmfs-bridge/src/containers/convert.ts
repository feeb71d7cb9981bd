// convertImage: one image (reference + approved digest) into the repository in ONE
// transaction — missing layers ingested, missing chains built from the longest cached ChainID
// prefix, the flat tree with .singularity.d, metadata, and the public tag symlink switched —
// so CVMFS clients see the old image or the new one, never a half-converted one.
import { copyWorker } from '../catalog/copy-worker.js';
import type { Repository } from '../repo/repository.js';
import { withTransaction } from '../writer/publish.js';
import type { Transaction } from '../writer/transaction.js';
import type { ContainerConfig } from './config.js';
import { ContainerError, containerCause } from './errors.js';
import { containerMetrics, type EventSink, emitter, type ProgressEvent } from './events.js';
import { ingestLayer, type LayerRecord } from './layer-ingest.js';
import { ContainerLayout } from './layout.js';
import { chainIds } from './manifest.js';
import { writePodmanImage } from './podman-store.js';
import { formatReference, parseReference } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { type ResolvedImage, resolveImage } from './resolve.js';
import { singularityFiles } from './singularity.js';
import { requireNoSnapshot } from './snapshot-paths.js';
import {
  addNestedDirectory,
  applyLayer,
  copyIntoFreshCatalog,
  copyIntoFreshCatalogAsync,
} from './tree-ops.js';
import { readTxJson, writeTxJson } from './tx-files.js';

export interface ConvertRequest {
  /** REGISTRY/REPO:TAG (a tag is required: it names the public path). */
  readonly reference: string;
  /** The approved manifest (or index) digest; the registry's bytes must hash to it. */
  readonly digest?: string;
  /**
   * Also require the registry's tag to name `digest` right now (signed entries: an image whose
   * registry manifest digest differs is refused, not published from an older manifest).
   */
  readonly requireTagAtDigest?: boolean;
}

export interface ConvertContext {
  readonly repo: Repository;
  readonly config: ContainerConfig;
  readonly client?: RegistryClient;
  readonly onEvent?: EventSink;
}

export interface ConvertResult {
  readonly reference: string;
  readonly digest: string;
  readonly configDigest: string;
  readonly publicPath: string;
  readonly flatPath: string;
  /** False when the tag already pointed at this image: nothing was published. */
  readonly changed: boolean;
  readonly revision?: number;
  readonly layersIngested: number;
  readonly chainsBuilt: number;
  readonly bytesDownloaded: number;
  readonly seconds: number;
}

/** What `.metadata/REGISTRY/REPO:TAG/image.json` records (GC and reconciliation read it). */
export interface ImageRecord {
  readonly reference: string;
  readonly digest: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly platform?: unknown;
  readonly layers: readonly { digest: string; diffId: string }[];
  readonly chainIds: readonly string[];
  readonly flat: string;
  readonly convertedAt: string;
}

class NothingToDo extends Error {}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  });
  await Promise.all(workers);
}

interface BuildStats {
  layersIngested: number;
  chainsBuilt: number;
  bytesDownloaded: number;
}

async function ensureLayers(
  tx: Transaction,
  ctx: ConvertContext & { client: RegistryClient },
  image: ResolvedImage,
  from: number,
  layout: ContainerLayout,
  emit: (e: ProgressEvent) => void,
  stats: BuildStats,
): Promise<Map<string, LayerRecord>> {
  const records = new Map<string, LayerRecord>();
  const needed = [...new Map(image.layers.slice(from).map((l) => [l.digest, l])).values()];
  const missing = needed.filter((l) => {
    const cached = readTxJson<LayerRecord>(tx, ctx.repo, layout.layerRecord(l.digest));
    if (cached && cached.diffId === l.diffId && tx.get(layout.layerfs(l.digest))?.kind === 'dir') {
      records.set(l.digest, cached);
      emit({ event: 'layer.cached', digest: l.digest });
      containerMetrics.layers.inc({ result: 'cached' });
      return false;
    }
    return true;
  });
  await mapLimit(missing, ctx.config.layerConcurrency, async (layer) => {
    const started = Date.now();
    emit({ event: 'layer.start', digest: layer.digest, sizeBytes: layer.size });
    const layerDir = layout.layerDir(layer.digest);
    await tx.remove(layerDir);
    await addNestedDirectory(tx, layerDir);
    const record = await ingestLayer(
      tx,
      layout.layerfs(layer.digest),
      {
        digest: layer.digest,
        diffId: layer.diffId,
        mediaType: layer.mediaType,
        sizeBytes: layer.size,
        open: () => ctx.client.blob(image.ref, layer.digest, ctx.config.maxLayerBytes, layer.size),
      },
      ctx.config,
    );
    await writeTxJson(tx, layout.layerRecord(layer.digest), record);
    records.set(layer.digest, record);
    stats.layersIngested++;
    stats.bytesDownloaded += record.compressedBytes;
    containerMetrics.layers.inc({ result: 'ingested' });
    containerMetrics.layerBytes.inc({ kind: 'compressed' }, record.compressedBytes);
    containerMetrics.layerBytes.inc({ kind: 'uncompressed' }, record.uncompressedBytes);
    emit({
      event: 'layer.end',
      digest: layer.digest,
      diffId: record.diffId,
      compression: record.compression,
      compressedBytes: record.compressedBytes,
      uncompressedBytes: record.uncompressedBytes,
      entries: record.entries,
      seconds: (Date.now() - started) / 1000,
    });
  });
  const total = [...records.values()].reduce((sum, r) => sum + r.uncompressedBytes, 0);
  if (total > ctx.config.maxImageUncompressedBytes)
    throw new ContainerError(
      'LIMIT_EXCEEDED',
      `image layers add up to more than ${ctx.config.maxImageUncompressedBytes} bytes`,
    );
  return records;
}

/**
 * Fills the fresh nested directory `dest` with the root filesystem after layers 0..k: layer 0
 * minus its whiteout files (nothing below to hide), or chain k-1 with layer k applied
 * (`lowerCopied`: chain k-1 is in `dest` already).
 */
function buildTree(
  tx: Transaction,
  dest: string,
  k: number,
  image: ResolvedImage,
  ids: readonly string[],
  records: ReadonlyMap<string, LayerRecord>,
  layout: ContainerLayout,
  lowerCopied = false,
): { rows: number; removed: number } {
  const layer = image.layers[k] as ResolvedImage['layers'][number];
  if (k === 0) {
    const rows = copyIntoFreshCatalog(tx, layout.layerfs(layer.digest), dest, true);
    return { rows, removed: 0 };
  }
  if (!lowerCopied) copyIntoFreshCatalog(tx, layout.chainDir(ids[k - 1] as string), dest);
  const record = records.get(layer.digest) as LayerRecord;
  return applyLayer(
    tx,
    layout.layerfs(layer.digest),
    dest,
    new Set(record.implicitDirs),
    record.whiteouts + record.opaqueDirs > 0,
  );
}

/**
 * Builds the missing chains from the longest cached ChainID prefix, then the flat tree. Chains
 * are kept for every proper prefix; the whole image's chain is the flat tree itself (plus
 * .singularity.d), so it is not stored twice.
 */
async function buildFlat(
  tx: Transaction,
  ctx: ConvertContext & { client: RegistryClient },
  image: ResolvedImage,
  ids: readonly string[],
  layout: ContainerLayout,
  emit: (e: ProgressEvent) => void,
  stats: BuildStats,
): Promise<void> {
  const n = ids.length;
  let cached = 0;
  for (let k = n - 1; k > 0; k--) {
    if (tx.get(layout.chainDir(ids[k - 1] as string))?.kind === 'dir') {
      cached = k;
      break;
    }
  }
  for (let k = 0; k < cached; k++) emit({ event: 'chain.cached', chainId: ids[k] as string, index: k });
  const flat = layout.flatDir(image.configDigest);
  const layersReady = ensureLayers(tx, ctx, image, cached, layout, emit, stats);
  // A new tag on a cached base (every chain but the top one stored): the base's rows are
  // copied into the flat tree on the copy thread while the top layer streams in on this one.
  let flatSeconds = 0;
  const baseCopied = n >= 2 && cached === n - 1;
  let baseCopy: Promise<void> | undefined;
  if (baseCopied) {
    const started = Date.now();
    emit({ event: 'flat.start', configDigest: image.configDigest });
    baseCopy = (async () => {
      await addNestedDirectory(tx, flat);
      await copyIntoFreshCatalogAsync(tx, layout.chainDir(ids[n - 2] as string), flat);
      flatSeconds = (Date.now() - started) / 1000;
    })();
    baseCopy.catch(() => {}); // observed below, after the layers
  }
  let records: Map<string, LayerRecord>;
  try {
    records = await layersReady;
  } finally {
    // Whatever happened to the layers, the copy is over before the transaction goes on or
    // aborts (it has the flat tree's catalog to itself until then).
    await baseCopy?.catch(() => {});
  }
  await baseCopy;
  await tx.flush();
  for (let k = cached; k < n - 1; k++) {
    const started = Date.now();
    const chainId = ids[k] as string;
    emit({ event: 'chain.start', chainId, index: k });
    const dest = layout.chainDir(chainId);
    await addNestedDirectory(tx, dest);
    const { rows, removed } = buildTree(tx, dest, k, image, ids, records, layout);
    stats.chainsBuilt++;
    emit({ event: 'chain.end', chainId, index: k, rows, removed, seconds: (Date.now() - started) / 1000 });
  }
  const started = Date.now();
  if (!baseCopied) {
    emit({ event: 'flat.start', configDigest: image.configDigest });
    await addNestedDirectory(tx, flat);
  }
  const { rows } = n > 0 ? buildTree(tx, flat, n - 1, image, ids, records, layout, baseCopied) : { rows: 0 };
  for (const f of singularityFiles(image.config))
    await tx.addFile(`${flat}/${f.path}`, Buffer.from(f.content), { mode: f.mode });
  // seconds: the flat tree's own work (a base copy that overlapped the top layer included).
  flatSeconds += (Date.now() - started) / 1000;
  emit({ event: 'flat.end', configDigest: image.configDigest, rows, seconds: flatSeconds });
}

async function writeMetadata(tx: Transaction, image: ResolvedImage, record: ImageRecord, dir: string) {
  await tx.remove(dir);
  await tx.addDirectory(dir, { mode: 0o755 });
  await tx.addFile(`${dir}/manifest.json`, image.manifestBytes, { mode: 0o644 });
  await tx.addFile(`${dir}/config.json`, image.configBytes, { mode: 0o644 });
  if (image.index) await tx.addFile(`${dir}/index.json`, image.index.bytes, { mode: 0o644 });
  await writeTxJson(tx, `${dir}/image.json`, record);
}

export async function convertImage(request: ConvertRequest, ctx: ConvertContext): Promise<ConvertResult> {
  const started = Date.now();
  const emit = emitter(ctx.onEvent);
  const client = ctx.client ?? new RegistryClient(ctx.config);
  const full = { ...ctx, client };
  let name = request.reference;
  emit({ event: 'image.start', reference: name, ...(request.digest ? { digest: request.digest } : {}) });
  try {
    const ref = parseReference(request.reference);
    name = formatReference({
      registry: ref.registry,
      repository: ref.repository,
      ...(ref.tag ? { tag: ref.tag } : {}),
    });
    if (!ref.tag)
      throw new ContainerError('BAD_REFERENCE', `${request.reference} needs a tag for its public path`);
    const image = await resolveImage(client, ref, ctx.config, request.digest, request.requireTagAtDigest);
    const layout = new ContainerLayout(ctx.config.basePath);
    // The catalog-copy thread starts with the process's first conversion and is kept: a later
    // tag on a cached base does not pay its start while its top layer competes for the CPUs.
    copyWorker();
    const publicPath = layout.publicLink(ref);
    const flatPath = layout.flatDir(image.configDigest);
    const linkTarget = ContainerLayout.relativeTarget(publicPath, flatPath);
    const ids = chainIds(image.layers.map((l) => l.diffId));
    const stats: BuildStats = { layersIngested: 0, chainsBuilt: 0, bytesDownloaded: 0 };
    const record: ImageRecord = {
      reference: name,
      digest: image.digest,
      manifestDigest: image.manifestDigest,
      configDigest: image.configDigest,
      ...(image.platform ? { platform: image.platform } : {}),
      layers: image.layers.map((l) => ({ digest: l.digest, diffId: l.diffId })),
      chainIds: ids,
      flat: flatPath,
      convertedAt: new Date().toISOString(),
    };
    let revision: number | undefined;
    let changed = true;
    try {
      let publishStarted = 0;
      const result = await withTransaction(ctx.repo, async (tx) => {
        // In the transaction, so a snapshot published or downloaded meanwhile is seen.
        requireNoSnapshot(ctx.repo.settings.stateDir, ctx.repo.fqrn, { path: publicPath, base: layout.base });
        const metaDir = layout.metadataDir(ref);
        const previous = readTxJson<ImageRecord>(tx, ctx.repo, `${metaDir}/image.json`);
        const link = tx.get(publicPath);
        const flatExists = tx.get(flatPath)?.kind === 'dir';
        if (previous?.digest === image.digest && link?.symlink === linkTarget && flatExists)
          throw new NothingToDo();
        if (!flatExists) await buildFlat(tx, full, image, ids, layout, emit, stats);
        await writeMetadata(tx, image, record, metaDir);
        await tx.addSymlink(publicPath, linkTarget);
        if (ctx.config.podmanStore) await writePodmanImage(tx, ctx.repo, layout, image, ids);
        await tx.flush();
        emit({ event: 'publish.start' });
        publishStarted = Date.now();
      });
      revision = result.revision;
      emit({ event: 'publish.end', revision, seconds: (Date.now() - publishStarted) / 1000 });
    } catch (error) {
      if (!(error instanceof NothingToDo) && !(error instanceof Error && error.cause instanceof NothingToDo))
        throw error;
      changed = false;
    }
    const seconds = (Date.now() - started) / 1000;
    containerMetrics.images.inc({ result: changed ? 'converted' : 'unchanged' });
    containerMetrics.convertSeconds.observe(seconds);
    emit({
      event: 'image.end',
      reference: name,
      digest: image.digest,
      configDigest: image.configDigest,
      seconds,
      changed,
      ...stats,
    });
    return {
      reference: name,
      digest: image.digest,
      configDigest: image.configDigest,
      publicPath,
      flatPath,
      changed,
      ...(revision !== undefined ? { revision } : {}),
      ...stats,
      seconds,
    };
  } catch (error) {
    const cause = containerCause(error);
    const reported = cause ?? error;
    const code = (reported as { code?: string }).code ?? 'ERROR';
    containerMetrics.images.inc({ result: 'failed' });
    containerMetrics.rejected.inc({ code });
    emit({
      event: 'image.error',
      reference: name,
      code,
      message: (reported as Error).message,
      seconds: (Date.now() - started) / 1000,
    });
    throw reported;
  }
}
