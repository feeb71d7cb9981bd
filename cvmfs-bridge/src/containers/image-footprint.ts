// What a converted image occupies in the repository: its public path `BASE/REGISTRY/REPO:TAG`
// and the layout trees under its base path (.layers, .chains, .flat, .metadata, podmanStore).
// One relation for both orders of "a repo snapshot and a container image must not overlap": the
// approved flow refuses a snapshot that touches an owned image (flows/approved/image-paths.ts),
// the converter refuses an image that touches a snapshot (snapshot-paths.ts).

export const LAYOUT_TREES = ['.layers', '.chains', '.flat', '.metadata', 'podmanStore'] as const;

export interface ImageFootprint {
  /** The public path (normalised). */
  readonly path: string;
  /** The layout's base path, normalised ('' for the repository root); unknown: the public path alone. */
  readonly base: string | undefined;
}

/** How `path` touches an image: it is, covers or lies inside the public path, or overlaps a layout tree. */
export type Overlap =
  | { readonly kind: 'is' | 'covers' | 'inside' }
  | { readonly kind: 'layout'; readonly tree: string };

/** a equals b, or one lies below the other. */
export const overlaps = (a: string, b: string): boolean =>
  a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);

export function overlapWithImage(path: string, image: ImageFootprint): Overlap | undefined {
  if (path === image.path) return { kind: 'is' };
  if (image.path.startsWith(`${path}/`)) return { kind: 'covers' };
  if (path.startsWith(`${image.path}/`)) return { kind: 'inside' };
  if (image.base === undefined) return undefined;
  const tree = LAYOUT_TREES.map((name) => `${image.base}/${name}`).find((t) => overlaps(path, t));
  return tree ? { kind: 'layout', tree } : undefined;
}
