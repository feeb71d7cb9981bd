// DUCC wishlists: `version`, `user`, `cvmfs_repo`, `input` (images, tag globs expanded through
// the registry's tags/list). Applying one converges the repository on it: new and moved tags
// converted, tags that left the list (or the registry) removed. Reconciliation is the same
// apply run on a schedule, which repairs whatever a lost webhook missed. A wishlist converts
// and removes only public paths it owns (state.ts: one owner per path); a path an approved
// entry or another wishlist owns is refused with TAG_CONFLICT in the report, and the rest of
// the wishlist carries on.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { Repository } from '../repo/repository.js';
import type { ContainerConfig } from './config.js';
import { convertImage } from './convert.js';
import { ContainerError, containerCause } from './errors.js';
import { containerMetrics, type EventSink, emitter } from './events.js';
import { ContainerLayout } from './layout.js';
import { formatReference, type ImageReference, isGlob, parseReference, tagGlob } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { removeImage } from './remove.js';
import { requireNoSnapshot } from './snapshot-paths.js';
import { openState, wishlistOwner } from './state.js';

const MAX_WISHLIST_BYTES = 1024 * 1024;

const WishlistSchema = z.object({
  version: z.literal(1),
  user: z.string().min(1).max(200),
  cvmfs_repo: z.string().min(1),
  output_format: z.string().optional(),
  input: z.array(z.string().min(1)).max(10_000),
});

export interface Wishlist {
  readonly name: string;
  readonly fqrn: string;
  readonly inputs: readonly ImageReference[];
}

export function parseWishlist(text: string, what = 'wishlist'): Wishlist {
  if (Buffer.byteLength(text) > MAX_WISHLIST_BYTES)
    throw new ContainerError('WISHLIST_INVALID', `${what} is larger than ${MAX_WISHLIST_BYTES} bytes`);
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new ContainerError(
      'WISHLIST_INVALID',
      `${what}: ${doc.errors[0]?.message.split('\n')[0] ?? 'bad YAML'}`,
    );
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 }); // no anchors/aliases (entity-expansion attacks)
  } catch (error) {
    throw new ContainerError('WISHLIST_INVALID', `${what}: ${(error as Error).message}`);
  }
  const r = WishlistSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ContainerError(
      'WISHLIST_INVALID',
      `${what}: ${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid'}`,
    );
  }
  const inputs = r.data.input.map((entry) => {
    try {
      const ref = parseReference(entry, { allowTagGlob: true });
      if (ref.digest) throw new ContainerError('BAD_REFERENCE', 'digests are not supported in wishlists');
      return ref;
    } catch (error) {
      throw new ContainerError('WISHLIST_INVALID', `${what}: input ${entry}: ${(error as Error).message}`);
    }
  });
  return { name: r.data.user, fqrn: r.data.cvmfs_repo, inputs };
}

export function readWishlist(file: string): Wishlist {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ContainerError('WISHLIST_INVALID', `cannot read wishlist ${file}: ${(error as Error).message}`);
  }
  return parseWishlist(text, `wishlist ${file}`);
}

export interface ApplyContext {
  readonly config: ContainerConfig;
  readonly stateDir: string;
  readonly openRepo: (fqrn: string) => Repository;
  readonly onEvent?: EventSink;
  readonly repoOverride?: string;
  readonly client?: RegistryClient;
}

export interface ApplyReport {
  readonly wishlist: string;
  readonly fqrn: string;
  readonly desired: string[];
  readonly converted: string[];
  readonly unchanged: string[];
  readonly removed: string[];
  readonly failed: { reference: string; code: string; message: string }[];
}

const sameRepository = (a: ImageReference, b: { registry: string; repository: string }) =>
  a.registry === b.registry && a.repository === b.repository;

/** The tagged references an input stands for now (a glob is expanded through tags/list). */
async function expand(client: RegistryClient, input: ImageReference): Promise<ImageReference[]> {
  const tag = input.tag ?? 'latest';
  if (!isGlob(tag)) return [{ ...input, tag }];
  const re = tagGlob(tag);
  return (await client.listTags(input)).filter((t) => re.test(t)).map((t) => ({ ...input, tag: t }));
}

/**
 * Converges the repository on the wishlist. With `only`, just the inputs of that registry
 * repository are looked at (what a webhook for it needs), and only its images may be removed.
 */
export async function applyWishlist(
  wishlist: Wishlist,
  ctx: ApplyContext,
  only?: { registry: string; repository: string },
): Promise<ApplyReport> {
  const fqrn = ctx.repoOverride ?? wishlist.fqrn;
  const repo = ctx.openRepo(fqrn);
  const client = ctx.client ?? new RegistryClient(ctx.config);
  const state = openState(ctx.stateDir, fqrn);
  const report: ApplyReport = {
    wishlist: wishlist.name,
    fqrn,
    desired: [],
    converted: [],
    unchanged: [],
    removed: [],
    failed: [],
  };
  const fail = (reference: string, error: unknown) => {
    const e = containerCause(error) ?? (error as Error & { code?: string });
    report.failed.push({ reference, code: e.code ?? 'ERROR', message: e.message });
  };
  const layout = new ContainerLayout(ctx.config.basePath);
  const owner = wishlistOwner(wishlist.name);
  try {
    state.seedWishlistOwners(wishlist.name, fqrn, (image) => layout.publicLink(parseReference(image)));
    const inputs = wishlist.inputs.filter((i) => !only || sameRepository(i, only));
    const desired = new Map<string, ImageReference>();
    const unresolvable = new Set<string>();
    for (const input of inputs) {
      try {
        for (const ref of await expand(client, input)) desired.set(formatReference(ref), ref);
      } catch (error) {
        // A repository that is gone from the registry has no tags: its images leave the list.
        if (containerCause(error)?.code !== 'NOT_FOUND') {
          fail(formatReference(input), error);
          unresolvable.add(`${input.registry}/${input.repository}`);
        }
      }
    }
    for (const [name, ref] of desired) {
      const path = layout.publicLink(ref);
      let claim: { fresh: boolean };
      try {
        // Someone else's path: refused, nothing converted; not a registry error, so the
        // repository's other tags may still be removed below. A snapshot's path is refused
        // before the claim too (checked again in the conversion's transaction).
        requireNoSnapshot(ctx.stateDir, fqrn, { path, base: layout.base });
        claim = state.claim(fqrn, path, owner, name);
      } catch (error) {
        const code = containerCause(error)?.code ?? 'ERROR';
        containerMetrics.rejected.inc({ code });
        emitter(ctx.onEvent)({
          event: 'image.error',
          reference: name,
          code,
          message: (error as Error).message,
          seconds: 0,
        });
        fail(name, error);
        report.desired.push(name);
        continue;
      }
      try {
        const result = await convertImage(
          { reference: name },
          { repo, config: ctx.config, client, ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}) },
        );
        (result.changed ? report.converted : report.unchanged).push(name);
        report.desired.push(name);
        state.addWishlistImage(wishlist.name, fqrn, name);
      } catch (error) {
        // Nothing of ours is there: a claim made for this attempt is given back.
        if (claim.fresh) state.release(fqrn, path, owner);
        if (containerCause(error)?.code === 'NOT_FOUND') {
          desired.delete(name); // the tag vanished between listing and fetching
          continue;
        }
        fail(name, error);
        report.desired.push(name);
        unresolvable.add(`${ref.registry}/${ref.repository}`);
      }
    }
    for (const name of state.wishlistImages(wishlist.name, fqrn)) {
      if (desired.has(name)) continue;
      const ref = parseReference(name);
      if (only && !sameRepository(ref, only)) continue;
      // Never remove on a registry error: only what the registry says is gone leaves.
      if (unresolvable.has(`${ref.registry}/${ref.repository}`)) continue;
      const path = layout.publicLink(ref);
      try {
        // Held while removing, so no other source converts into the path meanwhile.
        state.claim(fqrn, path, owner, name);
      } catch (error) {
        if (containerCause(error)?.code !== 'TAG_CONFLICT') throw error;
        // Recorded before owners were, but another source owns the path: never ours to remove.
        state.removeWishlistImage(wishlist.name, fqrn, name);
        continue;
      }
      try {
        await removeImage(name, {
          repo,
          config: ctx.config,
          ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}),
        });
        state.releaseWishlistImage(wishlist.name, fqrn, name, path);
        report.removed.push(name);
      } catch (error) {
        fail(name, error);
      }
    }
  } finally {
    state.close();
  }
  return report;
}

export async function applyWishlistFile(file: string, ctx: ApplyContext): Promise<ApplyReport> {
  return applyWishlist(readWishlist(file), ctx);
}

/** Applies every wishlist of the configuration (the scheduled reconciliation). */
export async function reconcileAll(ctx: ApplyContext): Promise<ApplyReport[]> {
  const reports: ApplyReport[] = [];
  for (const file of ctx.config.wishlists) reports.push(await applyWishlistFile(file, ctx));
  return reports;
}
