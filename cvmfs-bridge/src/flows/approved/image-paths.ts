// A repo-snapshot replaces its path whole, so it must not land on container images another
// source owns (the `image_owners` of the containers state): not over or inside an owned public
// image path, and not over or inside the layout trees those images live in (.flat, .chains,
// .layers, .metadata, podmanStore under the image's base path). Refused with TAG_CONFLICT, the
// converter's own code for a path another source owns.
import { ContainerError, type OwnedImage, ownedImages } from '../../containers/index.js';

const LAYOUT_TREES = ['.layers', '.chains', '.flat', '.metadata', 'podmanStore'];

/** a equals b, or one lies below the other. */
const overlaps = (a: string, b: string) => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);

/** The layout's base path an image was converted under: its public path minus REGISTRY/REPO:TAG. */
function baseOf(image: OwnedImage): string | undefined {
  const suffix = `/${image.reference}`;
  return image.path.endsWith(suffix) ? image.path.slice(0, -suffix.length) : undefined;
}

function conflictWith(fqrn: string, path: string, image: OwnedImage): string | undefined {
  if (path === image.path) return `${fqrn}:${path} is the container image path owned by ${image.owner}`;
  if (image.path.startsWith(`${path}/`))
    return `${fqrn}:${path} covers the container image path ${image.path} owned by ${image.owner}`;
  if (path.startsWith(`${image.path}/`))
    return `${fqrn}:${path} lies inside the container image path ${image.path} owned by ${image.owner}`;
  const base = baseOf(image);
  if (base === undefined) return undefined;
  const tree = LAYOUT_TREES.map((name) => `${base}/${name}`).find((t) => overlaps(path, t));
  return tree
    ? `${fqrn}:${path} overlaps ${tree}, the container layout of ${image.path} owned by ${image.owner}`
    : undefined;
}

/** Throws TAG_CONFLICT when a snapshot at `path` (normalised, not the root) would touch an owned image. */
export function requireNoOwnedImage(stateDir: string, fqrn: string, path: string): void {
  for (const image of ownedImages(stateDir, fqrn)) {
    const reason = conflictWith(fqrn, path, image);
    if (reason) throw new ContainerError('TAG_CONFLICT', reason);
  }
}
