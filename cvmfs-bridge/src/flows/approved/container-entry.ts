// Approved container-image entries: the signed `oci: {reference, digest}` names the image, and
// `cvmfs.repository` where it goes. The image is converted into the repository's DUCC layout
// (src/containers) only if the registry's tag still names the signed manifest digest; its
// public path is `basePath/REGISTRY/REPO:TAG`, and `cvmfs.path`, when given, must be exactly that.
import type { ApprovedEntry } from '@trustswarm/fetch';
import {
  type ContainerConfig,
  ContainerLayout,
  convertImage,
  formatReference,
  parseReference,
  removeImage,
} from '../../containers/index.js';
import { normalizeRepoPath } from '../../format/repo-path.js';
import type { Repository } from '../../repo/repository.js';
import { FlowError } from '../errors.js';

export interface ImageTarget {
  /** REGISTRY/REPO:TAG as the layout spells it (Docker Hub defaults filled in). */
  readonly reference: string;
  /** sha256:… from the signed entry. */
  readonly digest: string;
  /** The public symlink `basePath/REGISTRY/REPO:TAG`. */
  readonly path: string;
}

export function imageTargetOf(approved: ApprovedEntry, config: ContainerConfig): ImageTarget {
  const { entry } = approved;
  const oci = entry.oci;
  if (!oci) throw new FlowError('MESSAGE_INVALID', 'container-image entry has no oci reference and digest');
  const ref = parseReference(oci.reference);
  if (!ref.tag)
    throw new FlowError(
      'MESSAGE_INVALID',
      `oci.reference ${oci.reference} needs a tag (it names the public path)`,
    );
  const reference = formatReference({ registry: ref.registry, repository: ref.repository, tag: ref.tag });
  const path = new ContainerLayout(config.basePath).publicLink(ref);
  const asked = entry.cvmfs?.path;
  if (asked !== undefined && normalizeRepoPath(asked) !== path)
    throw new FlowError(
      'MESSAGE_INVALID',
      `cvmfs.path ${asked} is not the image's public path ${path} (containers basePath ${config.basePath})`,
    );
  return { reference, digest: oci.digest, path };
}

/** The layout base a published image was converted under: its public path minus REGISTRY/REPO:TAG. */
function basePathOf(publicPath: string, reference: string): string {
  return publicPath.endsWith(`/${reference}`) ? publicPath.slice(0, -reference.length - 1) || '/' : '/';
}

/**
 * Converts the image; publishes nothing when the tag already points at it. Refused
 * (ContainerError, nothing published): a registry tag at another digest, bytes that do not
 * hash to the digest, and everything the converter's layer policy refuses.
 */
export async function publishImage(
  repo: Repository,
  target: ImageTarget,
  config: ContainerConfig,
  onEvent: (event: Record<string, unknown>) => void,
): Promise<{ revision: number; changed: boolean }> {
  const result = await convertImage(
    { reference: target.reference, digest: target.digest, requireTagAtDigest: true },
    { repo, config, onEvent },
  );
  return { revision: result.revision ?? repo.manifest().revision, changed: result.changed };
}

/** Removes the image's public path and metadata; its trees stay for `container gc`. */
export async function unpublishImage(
  repo: Repository,
  row: { reference: string; path: string },
  config: ContainerConfig,
): Promise<number> {
  const result = await removeImage(row.reference, {
    repo,
    config: { ...config, basePath: basePathOf(row.path, row.reference) },
  });
  return result.revision ?? repo.manifest().revision;
}
