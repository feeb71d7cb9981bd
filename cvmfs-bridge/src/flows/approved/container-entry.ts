// Approved container-image entries: the signed `oci: {reference, digest}` names the image, and
// `cvmfs.repository` where it goes. The image is converted into the repository's DUCC layout
// (src/containers) only if the registry's tag still names the signed manifest digest; its
// public path is `basePath/REGISTRY/REPO:TAG`, and `cvmfs.path`, when given, must be exactly that.
// One owner per public path (src/containers/state.ts): an entry converts into and removes only
// a path it owns as `approved:ENTRY-ID`; a path a wishlist owns is refused with TAG_CONFLICT.
import type { ApprovedEntry } from '@trustswarm/fetch';
import {
  approvedOwner,
  type ContainerConfig,
  type ContainerError,
  ContainerLayout,
  convertImage,
  formatReference,
  isContainerError,
  openState,
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
 * Takes (or confirms) the entry's ownership of the image's public path; TAG_CONFLICT when a
 * wishlist owns it. `fresh`: the claim is new (given back if the conversion then fails).
 */
export function claimImagePath(
  repo: Repository,
  entryId: string,
  target: { reference: string; path: string },
): { fresh: boolean } {
  const state = openState(repo.settings.stateDir, repo.fqrn);
  try {
    return state.claim(repo.fqrn, target.path, approvedOwner(entryId), target.reference);
  } finally {
    state.close();
  }
}

export function releaseImagePath(repo: Repository, entryId: string, path: string): void {
  const state = openState(repo.settings.stateDir, repo.fqrn);
  try {
    state.release(repo.fqrn, path, approvedOwner(entryId));
  } finally {
    state.close();
  }
}

/**
 * Converts the image into a path the entry owns; publishes nothing when the tag already points
 * at it. Refused (ContainerError, nothing published): a path a wishlist owns (TAG_CONFLICT), a
 * registry tag at another digest, bytes that do not hash to the digest, and everything the
 * converter's layer policy refuses.
 */
export async function publishImage(
  repo: Repository,
  entryId: string,
  target: ImageTarget,
  config: ContainerConfig,
  onEvent: (event: Record<string, unknown>) => void,
): Promise<{ revision: number; changed: boolean }> {
  const claim = claimImagePath(repo, entryId, target);
  try {
    const result = await convertImage(
      { reference: target.reference, digest: target.digest, requireTagAtDigest: true },
      { repo, config, onEvent },
    );
    return { revision: result.revision ?? repo.manifest().revision, changed: result.changed };
  } catch (error) {
    if (claim.fresh) releaseImagePath(repo, entryId, target.path);
    throw error;
  }
}

/**
 * Removes the image's public path and metadata (its trees stay for `container gc`) and gives
 * the path up. A path another source owns is left alone: `{ conflict }` (TAG_CONFLICT) names it.
 */
export async function unpublishImage(
  repo: Repository,
  row: { entryId: string; reference: string; path: string },
  config: ContainerConfig,
): Promise<{ revision: number } | { conflict: ContainerError }> {
  try {
    claimImagePath(repo, row.entryId, row); // held while removing (an unowned path too)
  } catch (error) {
    if (isContainerError(error, 'TAG_CONFLICT')) return { conflict: error };
    throw error;
  }
  const result = await removeImage(row.reference, {
    repo,
    config: { ...config, basePath: basePathOf(row.path, row.reference) },
  });
  releaseImagePath(repo, row.entryId, row.path);
  return { revision: result.revision ?? repo.manifest().revision };
}
