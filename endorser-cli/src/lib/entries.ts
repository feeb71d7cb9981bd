// Building catalog entries for artifacts: one read of the file gives the hashes and the
// .torrent; the entry is added in one catalog update, refusing duplicates.

import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { type Catalog, type CatalogEntry, entrySchema } from '@trustswarm/policy';
import { writeFileAtomic } from './atomic.js';
import type { Context } from './context.js';
import { CliError, fsError } from './errors.js';
import { hashFile } from './hash-file.js';
import { startProgress } from './progress.js';
import { buildTorrent } from './torrent.js';
import { isoSeconds } from './workspace.js';

/** Options every `add` command shares. */
export interface EntryOptions {
  name?: string;
  entryVersion?: string;
  title?: string;
  description?: string;
  vo?: string[];
  cluster?: string;
  subcluster?: string;
  host?: string[];
  id?: string;
}

/** A catalog-safe name from a file name: letters, digits and . _ + - only. */
export function nameFromFile(path: string): string {
  const base = basename(path).replace(/\.(qcow2|img|raw|vmdk|vdi|iso|tar|tar\.gz|tgz)$/i, '');
  const cleaned = base.replace(/[^A-Za-z0-9._+-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return cleaned || 'artifact';
}

function fileNameFor(path: string): string {
  const cleaned = basename(path).replace(/[^A-Za-z0-9._+-]+/g, '-');
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? 'artifact' : cleaned;
}

export function commonFields(opts: EntryOptions): Partial<CatalogEntry> {
  const distribution = {
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
    ...(opts.subcluster ? { subcluster: opts.subcluster } : {}),
    ...(opts.host?.length ? { hosts: opts.host } : {}),
  };
  return {
    ...(opts.title ? { title: opts.title } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    ...(opts.vo?.length ? { voTags: opts.vo } : {}),
    ...(Object.keys(distribution).length ? { distribution } : {}),
  };
}

export function requireNoDuplicate(catalog: Catalog, entry: Partial<CatalogEntry>): void {
  for (const e of catalog.entries) {
    if (entry.id && e.id === entry.id)
      throw new CliError('DUPLICATE_ENTRY', `entry id ${e.id} is already in the catalog`);
    if (e.name === entry.name && e.version === entry.version)
      throw new CliError(
        'DUPLICATE_ENTRY',
        `${e.name} version ${e.version} is already in the catalog (${e.id})`,
      );
    if (entry.artifact && e.artifact?.sha256 === entry.artifact.sha256)
      throw new CliError(
        'DUPLICATE_ENTRY',
        `an artifact with sha256 ${e.artifact.sha256} is already in the catalog as ${e.name} ${e.version}`,
      );
    if (entry.oci && e.oci?.digest === entry.oci.digest && e.oci.reference === entry.oci.reference)
      throw new CliError(
        'DUPLICATE_ENTRY',
        `${entry.oci.reference}@${entry.oci.digest} is already in the catalog`,
      );
  }
}

const PLACEHOLDER_ARTIFACT = {
  size: 0,
  sha256: '0'.repeat(64),
  infoHash: '0'.repeat(40),
  torrent: { sha256: '0'.repeat(64) },
};

/** Checks the entry's own fields with the catalog schema before any long work. */
export function requireValidFields(base: Partial<CatalogEntry>): void {
  const probe = { id: '00000000-0000-0000-0000-000000000000', artifact: PLACEHOLDER_ARTIFACT, ...base };
  const result = entrySchema.safeParse(probe);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new CliError(
      'CATALOG_INVALID',
      `entry ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
}

export function webSeedsFor(ctx: Context, sha256: string): string[] {
  const base = ctx.config.torrent.webSeedBase;
  return base ? [`${base.replace(/\/+$/, '')}/artifacts/${sha256}`] : [];
}

export function announceList(ctx: Context): string[] {
  if (ctx.config.torrent.announce.length > 0) return ctx.config.torrent.announce;
  const server = ctx.config.server.url;
  return server ? [`${server.replace(/\/+$/, '')}/announce`] : [];
}

export interface PreparedArtifact {
  artifact: NonNullable<CatalogEntry['artifact']>;
  produced: string;
  torrentPath: string;
  source: { path: string; sizeBytes: number; mtimeMs: number };
}

/** One read of `path`: hashes, .torrent written into the workspace, the artifact fields. */
export async function prepareArtifact(
  ctx: Context,
  path: string,
  opts: { sha512?: boolean },
): Promise<PreparedArtifact> {
  const sizeBytes = await stat(path).then(
    (st) => st.size,
    (err: unknown) => {
      throw fsError(err, `artifact ${path}`);
    },
  );
  const progress = startProgress(`hashing ${basename(path)}`, sizeBytes, ctx.interactive);
  const digests = await hashFile(path, {
    sha512: opts.sha512 ?? ctx.config.hash.sha512,
    onProgress: (done) => progress.update(done),
  }).finally(() => progress.stop());
  const torrent = buildTorrent(digests, {
    fileName: fileNameFor(path),
    announce: announceList(ctx),
    webSeeds: webSeedsFor(ctx, digests.sha256),
  });
  const torrentPath = ctx.workspace.torrentPath(torrent.infoHash);
  await writeFileAtomic(torrentPath, torrent.bytes);
  return {
    artifact: {
      size: digests.sizeBytes,
      sha256: digests.sha256,
      ...(digests.sha512 ? { sha512: digests.sha512 } : {}),
      infoHash: torrent.infoHash,
      torrent: { sha256: torrent.sha256 },
      fileName: fileNameFor(path),
    },
    produced: isoSeconds(new Date(digests.mtimeMs)),
    torrentPath,
    source: { path, sizeBytes: digests.sizeBytes, mtimeMs: digests.mtimeMs },
  };
}

/** Adds prepared entries in one catalog update and remembers where their bytes are. */
export function commitEntries(
  ctx: Context,
  items: Array<{ entry: CatalogEntry; prepared?: PreparedArtifact }>,
): number {
  const { catalog } = ctx.workspace.update((c) => {
    for (const { entry } of items) {
      requireNoDuplicate(c, entry);
      c.entries.push(entry);
    }
  });
  for (const { entry, prepared } of items)
    if (prepared && entry.artifact) ctx.workspace.recordSource(entry.artifact.sha256, prepared.source);
  return catalog.version;
}

/** Hashes `path`, writes its .torrent and adds the entry in one catalog update. */
export async function addArtifactEntry(
  ctx: Context,
  path: string,
  base: Omit<CatalogEntry, 'id' | 'artifact'> & { id?: string },
  opts: { sha512?: boolean },
): Promise<{ entry: CatalogEntry; version: number; torrentPath: string }> {
  // Fail before a long read when the catalog is missing, a field is invalid, or the entry exists.
  requireValidFields(base);
  requireNoDuplicate(ctx.workspace.readCatalog().catalog, base);
  const prepared = await prepareArtifact(ctx, path, opts);
  const entry = {
    ...base,
    id: base.id ?? randomUUID(),
    artifact: prepared.artifact,
    produced: base.produced ?? prepared.produced,
  } as CatalogEntry;
  const version = commitEntries(ctx, [{ entry, prepared }]);
  return { entry, version, torrentPath: prepared.torrentPath };
}
