// Garbage collection of converted images: flat trees, chains and layers that no published tag
// (.metadata/…/image.json) references are removed once they stayed unreferenced for the grace
// period. Mark-and-sweep inside one transaction; first-seen times live in the state DB.
import type { Repository } from '../repo/repository.js';
import { withTransaction } from '../writer/publish.js';
import type { Transaction } from '../writer/transaction.js';
import type { ContainerConfig } from './config.js';
import type { ImageRecord } from './convert.js';
import { type EventSink, emitter } from './events.js';
import { ContainerLayout } from './layout.js';
import { openState } from './state.js';
import { readTxJson, removeAndPrune, writeTxJson } from './tx-files.js';

export interface ContainerGcReport {
  readonly images: number;
  readonly removed: string[];
  readonly pending: string[];
  readonly revision?: number;
}

class NoGarbage extends Error {}

/** Every image record under .metadata (walks the tree; records are small). */
export function listImageRecords(tx: Transaction, repo: Repository, layout: ContainerLayout): ImageRecord[] {
  const out: ImageRecord[] = [];
  const walk = (dir: string) => {
    for (const d of tx.list(dir)) {
      if (d.kind === 'dir') walk(`${dir}/${d.name}`);
      else if (d.kind === 'file' && d.name === 'image.json') {
        const r = readTxJson<ImageRecord>(tx, repo, `${dir}/${d.name}`);
        if (r) out.push(r);
      }
    }
  };
  if (tx.get(layout.areas().metadata)?.kind === 'dir') walk(layout.areas().metadata);
  return out;
}

function shardedEntries(tx: Transaction, area: string): string[] {
  if (tx.get(area)?.kind !== 'dir') return [];
  return tx
    .list(area)
    .flatMap((shard) =>
      shard.kind === 'dir'
        ? tx.list(`${area}/${shard.name}`).map((e) => `${area}/${shard.name}/${e.name}`)
        : [],
    );
}

export async function collectContainerGarbage(
  repo: Repository,
  options: {
    config: ContainerConfig;
    graceSeconds: number;
    dryRun?: boolean;
    onEvent?: EventSink;
    now?: () => number;
  },
): Promise<ContainerGcReport> {
  const layout = new ContainerLayout(options.config.basePath);
  const state = openState(repo.settings.stateDir, repo.fqrn);
  const now = Math.floor((options.now?.() ?? Date.now()) / 1000);
  let report: ContainerGcReport = { images: 0, removed: [], pending: [] };
  try {
    const result = await withTransaction(repo, async (tx) => {
      const records = listImageRecords(tx, repo, layout);
      const referenced = new Set<string>();
      for (const r of records) {
        referenced.add(r.flat);
        // The whole image's chain is its flat tree; proper prefixes live in .chains.
        for (const c of r.chainIds.slice(0, -1)) referenced.add(layout.chainDir(c));
        for (const l of r.layers) referenced.add(layout.layerDir(l.digest));
      }
      const areas = layout.areas();
      const unreferenced = [areas.flat, areas.chains, areas.layers]
        .flatMap((a) => shardedEntries(tx, a))
        .filter((p) => !referenced.has(p));
      const since = state.markUnreferenced(unreferenced, now);
      const due = unreferenced.filter((p) => now - (since.get(p) ?? now) >= options.graceSeconds);
      report = {
        images: records.length,
        removed: due,
        pending: unreferenced.filter((p) => !due.includes(p)),
      };
      if (options.dryRun || due.length === 0) throw new NoGarbage();
      for (const p of due) {
        const area = p.slice(0, p.lastIndexOf('/', p.lastIndexOf('/') - 1));
        await removeAndPrune(tx, p, area);
      }
      if (options.config.podmanStore) await prunePodmanLayers(tx, repo, layout, due);
    });
    state.forgetUnreferenced(report.removed);
    report = { ...report, revision: result.revision };
  } catch (error) {
    if (!(error instanceof NoGarbage) && !(error instanceof Error && error.cause instanceof NoGarbage))
      throw error;
  } finally {
    state.close();
  }
  emitter(options.onEvent)({
    event: 'gc.end',
    removed: report.removed,
    pending: report.pending.length,
    ...(report.revision !== undefined ? { revision: report.revision } : {}),
  });
  return report;
}

/** Drops podman-store layers whose layer tree (their overlay diff) was collected. */
async function prunePodmanLayers(
  tx: Transaction,
  repo: Repository,
  layout: ContainerLayout,
  removed: readonly string[],
) {
  const root = layout.areas().podman;
  const layersFile = `${root}/overlay-layers/layers.json`;
  const layers = readTxJson<{ id: string; 'compressed-diff-digest': string }[]>(tx, repo, layersFile);
  if (!layers) return;
  const gone = new Set(removed);
  const dropped = layers.filter((l) => gone.has(layout.layerDir(l['compressed-diff-digest'])));
  for (const l of dropped) {
    await tx.remove(`${root}/overlay/${l.id}`);
    await tx.remove(`${root}/overlay/l/${l.id.slice(0, 26).toUpperCase()}`);
  }
  await writeTxJson(
    tx,
    layersFile,
    layers.filter((l) => !dropped.includes(l)),
  );
}
