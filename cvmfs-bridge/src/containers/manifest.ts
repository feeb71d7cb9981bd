// OCI / Docker v2 manifests, indexes and image configs: strict parsing of what the converter
// relies on (digests, sizes, diff_ids, platform), platform choice in an index, and the ChainID.
import { z } from 'zod';
import { sha256Digest } from './digest-stream.js';
import { ContainerError } from './errors.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export const MANIFEST_ACCEPT = [
  MEDIA.ociIndex,
  MEDIA.ociManifest,
  MEDIA.dockerList,
  MEDIA.dockerManifest,
].join(', ');

const Digest = z.string().regex(/^sha256:[a-f0-9]{64}$/);
const Descriptor = z.object({
  mediaType: z.string(),
  digest: Digest,
  size: z.number().int().nonnegative(),
  platform: z
    .object({ os: z.string(), architecture: z.string(), variant: z.string().optional() })
    .passthrough()
    .optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

const IndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(Descriptor),
});
const ManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: Descriptor,
  layers: z.array(Descriptor),
});
export type ImageManifest = z.infer<typeof ManifestSchema>;

const ConfigSchema = z
  .object({
    architecture: z.string().optional(),
    os: z.string().optional(),
    config: z
      .object({
        Env: z.array(z.string()).nullish(),
        Entrypoint: z.array(z.string()).nullish(),
        Cmd: z.array(z.string()).nullish(),
        WorkingDir: z.string().nullish(),
        Labels: z.record(z.string(), z.string()).nullish(),
        User: z.string().nullish(),
      })
      .passthrough()
      .nullish(),
    rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(Digest) }),
  })
  .passthrough();
export type ImageConfig = z.infer<typeof ConfigSchema>;

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ContainerError('MANIFEST_INVALID', `${what} is not JSON`);
  }
}

function issue(error: z.ZodError): string {
  const i = error.issues[0];
  return `${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid'}`;
}

export type ParsedManifest =
  | { kind: 'index'; index: z.infer<typeof IndexSchema> }
  | { kind: 'manifest'; manifest: ImageManifest };

/** Classifies by the document's own mediaType (or the response's), never guessing schema 1. */
export function parseManifest(bytes: Buffer, responseType: string, what: string): ParsedManifest {
  const doc = parseJson(bytes, what) as { mediaType?: unknown; manifests?: unknown; schemaVersion?: unknown };
  const type = typeof doc.mediaType === 'string' ? doc.mediaType : responseType;
  if (doc.schemaVersion === 1 || type.includes('distribution.manifest.v1'))
    throw new ContainerError('MANIFEST_UNSUPPORTED', `${what} is a schema 1 manifest (not supported)`);
  if (type === MEDIA.ociIndex || type === MEDIA.dockerList || (type === '' && Array.isArray(doc.manifests))) {
    const r = IndexSchema.safeParse(doc);
    if (!r.success) throw new ContainerError('MANIFEST_INVALID', `${what}: ${issue(r.error)}`);
    return { kind: 'index', index: r.data };
  }
  if (type === MEDIA.ociManifest || type === MEDIA.dockerManifest || type === '') {
    const r = ManifestSchema.safeParse(doc);
    if (!r.success) throw new ContainerError('MANIFEST_INVALID', `${what}: ${issue(r.error)}`);
    return { kind: 'manifest', manifest: r.data };
  }
  throw new ContainerError('MANIFEST_UNSUPPORTED', `${what} has unsupported media type ${type}`);
}

export function parseConfig(bytes: Buffer, what: string): ImageConfig {
  const r = ConfigSchema.safeParse(parseJson(bytes, what));
  if (!r.success) throw new ContainerError('MANIFEST_INVALID', `${what}: ${issue(r.error)}`);
  return r.data;
}

/** The index entry for the first platform asked for that the index offers. */
export function choosePlatform(manifests: readonly Descriptor[], platforms: readonly string[]): Descriptor {
  for (const wanted of platforms) {
    const [os, arch, variant] = wanted.split('/');
    const found = manifests.find(
      (m) =>
        m.platform?.os === os &&
        m.platform?.architecture === arch &&
        (variant === undefined || m.platform?.variant === variant),
    );
    if (found) return found;
  }
  const offered = manifests
    .map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}`)
    .join(', ');
  throw new ContainerError(
    'PLATFORM_NOT_FOUND',
    `no manifest for ${platforms.join(', ')} in the index (offers ${offered || 'nothing'})`,
  );
}

const LAYER_TYPE_RE =
  /^application\/vnd\.(oci\.image|docker\.image\.rootfs)\.(layer\.v1\.tar|diff\.tar|foreign\.diff\.tar)|^application\/vnd\.oci\.image\.layer\.nondistributable\.v1\.tar/;

export function requireLayerType(d: Descriptor): void {
  if (!LAYER_TYPE_RE.test(d.mediaType))
    throw new ContainerError(
      'MANIFEST_UNSUPPORTED',
      `layer ${d.digest} has unsupported media type ${d.mediaType}`,
    );
}

/**
 * ChainIDs as the OCI image spec defines them: ChainID(L0) = DiffID(L0),
 * ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const previous = out[out.length - 1];
    out.push(previous === undefined ? diffId : sha256Digest(`${previous} ${diffId}`));
  }
  return out;
}
