// Where things live inside the repository (DUCC's layout): .layers/, .chains/, .flat/,
// .metadata/ and the public REGISTRY/REPO:TAG symlinks, all under the configured base path.
import { normalizeRepoPath } from '../format/repo-path.js';
import { ContainerError } from './errors.js';
import type { ImageReference } from './reference.js';

export const CATALOG_MARKERS = new Set(['.cvmfscatalog', '.cvmfsautocatalog']);

function hexOf(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest))
    throw new ContainerError('BAD_REFERENCE', `bad digest ${digest}`);
  return digest.slice('sha256:'.length);
}

function sharded(base: string, area: string, digest: string): string {
  const hex = hexOf(digest);
  return `${base}/${area}/${hex.slice(0, 2)}/${hex}`;
}

export class ContainerLayout {
  readonly base: string;

  constructor(basePath: string) {
    this.base = normalizeRepoPath(basePath);
  }

  layerDir(digest: string): string {
    return sharded(this.base, '.layers', digest);
  }

  layerfs(digest: string): string {
    return `${this.layerDir(digest)}/layerfs`;
  }

  layerRecord(digest: string): string {
    return `${this.layerDir(digest)}/layer.json`;
  }

  chainDir(chainId: string): string {
    return sharded(this.base, '.chains', chainId);
  }

  flatDir(configDigest: string): string {
    return sharded(this.base, '.flat', configDigest);
  }

  areas(): { layers: string; chains: string; flat: string; metadata: string; podman: string } {
    return {
      layers: `${this.base}/.layers`,
      chains: `${this.base}/.chains`,
      flat: `${this.base}/.flat`,
      metadata: `${this.base}/.metadata`,
      podman: `${this.base}/podmanStore`,
    };
  }

  private tagged(ref: ImageReference): string {
    if (!ref.tag) throw new ContainerError('BAD_REFERENCE', `${ref.registry}/${ref.repository} needs a tag`);
    return `${ref.registry}/${ref.repository}:${ref.tag}`;
  }

  /** The public path `REGISTRY/REPO:TAG` (a symlink to the flat tree). */
  publicLink(ref: ImageReference): string {
    return normalizeRepoPath(`${this.base}/${this.tagged(ref)}`);
  }

  metadataDir(ref: ImageReference): string {
    return normalizeRepoPath(`${this.base}/.metadata/${this.tagged(ref)}`);
  }

  /** Relative symlink target from `linkPath`'s directory to `targetPath` (both repository paths). */
  static relativeTarget(linkPath: string, targetPath: string): string {
    const from = linkPath.split('/').slice(1, -1);
    const to = targetPath.split('/').slice(1);
    let common = 0;
    while (common < from.length && common < to.length && from[common] === to[common]) common++;
    return [...from.slice(common).map(() => '..'), ...to.slice(common)].join('/') || '.';
  }
}
