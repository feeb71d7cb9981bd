// A repo-snapshot replaces its path whole, so it must not land on container images another
// source owns (the `image_owners` of the containers state): not over or inside an owned public
// image path, and not over or inside the layout trees those images live in (.flat, .chains,
// .layers, .metadata, podmanStore under the image's base path). Refused with TAG_CONFLICT, the
// converter's own code for a path another source owns. The converter checks the other order
// with the same relation (containers/snapshot-paths.ts).
import { ContainerError, type OwnedImage, overlapWithImage, ownedImages } from '../../containers/index.js';

/** The layout's base path an image was converted under: its public path minus REGISTRY/REPO:TAG. */
function baseOf(image: OwnedImage): string | undefined {
  const suffix = `/${image.reference}`;
  return image.path.endsWith(suffix) ? image.path.slice(0, -suffix.length) : undefined;
}

function conflictWith(fqrn: string, path: string, image: OwnedImage): string | undefined {
  const overlap = overlapWithImage(path, { path: image.path, base: baseOf(image) });
  if (!overlap) return undefined;
  const owned = `owned by ${image.owner}`;
  switch (overlap.kind) {
    case 'is':
      return `${fqrn}:${path} is the container image path ${owned}`;
    case 'covers':
      return `${fqrn}:${path} covers the container image path ${image.path} ${owned}`;
    case 'inside':
      return `${fqrn}:${path} lies inside the container image path ${image.path} ${owned}`;
    case 'layout':
      return `${fqrn}:${path} overlaps ${overlap.tree}, the container layout of ${image.path} ${owned}`;
  }
}

/** Throws TAG_CONFLICT when a snapshot at `path` (normalised, not the root) would touch an owned image. */
export function requireNoOwnedImage(stateDir: string, fqrn: string, path: string): void {
  for (const image of ownedImages(stateDir, fqrn)) {
    const reason = conflictWith(fqrn, path, image);
    if (reason) throw new ContainerError('TAG_CONFLICT', reason);
  }
}
