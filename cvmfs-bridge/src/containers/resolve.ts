// From a reference (and the approved digest) to a verified image: top-level manifest checked
// against the digest, the platform's manifest picked from an index, config fetched by digest,
// one DiffID per layer. Nothing is trusted that was not checked against a digest.
import type { ContainerConfig } from './config.js';
import { ContainerError } from './errors.js';
import {
  choosePlatform,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  parseConfig,
  parseManifest,
  requireLayerType,
} from './manifest.js';
import { formatReference, type ImageReference } from './reference.js';
import type { RegistryClient } from './registry-client.js';

export interface ResolvedImage {
  readonly ref: ImageReference;
  /** Digest of what the reference names (an index or a manifest): the approved digest. */
  readonly digest: string;
  readonly index?: { bytes: Buffer; mediaType: string };
  readonly manifestDigest: string;
  readonly manifestBytes: Buffer;
  readonly manifestMediaType: string;
  readonly manifest: ImageManifest;
  readonly platform?: Descriptor['platform'];
  readonly configDigest: string;
  readonly configBytes: Buffer;
  readonly config: ImageConfig;
  readonly layers: readonly (Descriptor & { diffId: string })[];
}

export async function resolveImage(
  client: RegistryClient,
  ref: ImageReference,
  config: ContainerConfig,
  approvedDigest?: string,
  requireTagAtDigest = false,
): Promise<ResolvedImage> {
  const name = formatReference(ref);
  const wanted = approvedDigest ?? ref.digest;
  if (approvedDigest && ref.digest && approvedDigest !== ref.digest)
    throw new ContainerError(
      'DIGEST_MISMATCH',
      `${name}: reference digest differs from the approved ${approvedDigest}`,
    );
  if (requireTagAtDigest && wanted && ref.tag) {
    // The tag's current digest only gates; the bytes used are fetched by digest and checked below.
    const current = await client.resolveTag(ref, ref.tag);
    if (current === undefined)
      throw new ContainerError('NOT_FOUND', `${name}: tag not found in the registry`);
    if (current !== wanted)
      throw new ContainerError(
        'DIGEST_MISMATCH',
        `${name}: the registry's manifest digest ${current} differs from the approved ${wanted}`,
      );
  }
  const top = await client.manifest(ref, wanted ?? (ref.tag as string));
  let parsed = parseManifest(top.bytes, top.mediaType, `manifest of ${name}`);
  let manifestDigest = top.digest;
  let manifestBytes = top.bytes;
  let manifestMediaType = top.mediaType;
  let index: ResolvedImage['index'];
  let platform: Descriptor['platform'];
  if (parsed.kind === 'index') {
    index = { bytes: top.bytes, mediaType: top.mediaType };
    const chosen = choosePlatform(parsed.index.manifests, config.platforms);
    platform = chosen.platform;
    const child = await client.manifest(ref, chosen.digest);
    parsed = parseManifest(child.bytes, child.mediaType, `manifest ${chosen.digest} of ${name}`);
    if (parsed.kind !== 'manifest')
      throw new ContainerError('MANIFEST_UNSUPPORTED', `${name}: an index inside an index is not supported`);
    manifestDigest = child.digest;
    manifestBytes = child.bytes;
    manifestMediaType = child.mediaType;
  }
  const manifest = parsed.manifest;
  if (manifest.layers.length > config.maxLayers)
    throw new ContainerError(
      'LIMIT_EXCEEDED',
      `${name} has ${manifest.layers.length} layers, the limit is ${config.maxLayers}`,
    );
  for (const layer of manifest.layers) requireLayerType(layer);
  if (manifest.config.size > config.maxConfigBytes)
    throw new ContainerError('LIMIT_EXCEEDED', `config of ${name} is ${manifest.config.size} bytes`);
  const configBytes = await client.blobBytes(ref, manifest.config.digest, config.maxConfigBytes);
  const imageConfig = parseConfig(configBytes, `config of ${name}`);
  const diffIds = imageConfig.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length)
    throw new ContainerError(
      'MANIFEST_INVALID',
      `${name}: ${manifest.layers.length} layers but ${diffIds.length} diff_ids in the config`,
    );
  return {
    ref,
    digest: top.digest,
    ...(index ? { index } : {}),
    manifestDigest,
    manifestBytes,
    manifestMediaType,
    manifest,
    ...(platform ? { platform } : {}),
    configDigest: manifest.config.digest,
    configBytes,
    config: imageConfig,
    layers: manifest.layers.map((l, i) => ({ ...l, diffId: diffIds[i] as string })),
  };
}
