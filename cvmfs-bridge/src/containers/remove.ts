// Removing a tag: its public symlink and metadata go in one transaction; the flat tree, chains
// and layers stay until garbage collection finds nothing references them (after a grace period).
import type { Repository } from '../repo/repository.js';
import { withTransaction } from '../writer/publish.js';
import type { ContainerConfig } from './config.js';
import { ContainerError } from './errors.js';
import { type EventSink, emitter } from './events.js';
import { ContainerLayout } from './layout.js';
import { removePodmanName } from './podman-store.js';
import { formatReference, parseReference } from './reference.js';
import { removeAndPrune } from './tx-files.js';

export async function removeImage(
  reference: string,
  ctx: { repo: Repository; config: ContainerConfig; onEvent?: EventSink },
): Promise<{ removed: boolean; revision?: number }> {
  const ref = parseReference(reference);
  if (!ref.tag) throw new ContainerError('BAD_REFERENCE', `${reference} needs a tag`);
  const layout = new ContainerLayout(ctx.config.basePath);
  const name = formatReference({ registry: ref.registry, repository: ref.repository, tag: ref.tag });
  let removed = false;
  try {
    const result = await withTransaction(ctx.repo, async (tx) => {
      const link = await removeAndPrune(tx, layout.publicLink(ref), layout.base);
      const meta = await removeAndPrune(tx, layout.metadataDir(ref), `${layout.base}/.metadata`);
      removed = link || meta;
      if (!removed) throw new NothingRemoved();
      if (ctx.config.podmanStore) await removePodmanName(tx, ctx.repo, layout, name);
    });
    emitter(ctx.onEvent)({ event: 'image.removed', reference: name });
    return { removed, revision: result.revision };
  } catch (error) {
    if (error instanceof NothingRemoved || (error instanceof Error && error.cause instanceof NothingRemoved))
      return { removed: false };
    throw error;
  }
}

class NothingRemoved extends Error {}
