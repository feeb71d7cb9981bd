// add image FILE...: VM image entries (hashes, .torrent, image metadata), one version per command.

import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import type { CatalogEntry } from '@trustswarm/policy';
import type { CommandResult, Context } from '../lib/context.js';
import {
  addArtifactEntry,
  commitEntries,
  commonFields,
  type EntryOptions,
  nameFromFile,
  prepareArtifact,
  requireNoDuplicate,
  requireValidFields,
} from '../lib/entries.js';
import { CliError } from '../lib/errors.js';
import { isoSeconds } from '../lib/workspace.js';

export interface AddImageOptions extends EntryOptions {
  os?: string;
  osVersion?: string;
  arch?: string;
  hypervisor?: string;
  format?: string;
  sha512?: boolean;
}

export function imageFields(opts: AddImageOptions): Partial<CatalogEntry> {
  const image = {
    ...(opts.os ? { os: opts.os } : {}),
    ...(opts.osVersion ? { osVersion: opts.osVersion } : {}),
    ...(opts.arch ? { arch: opts.arch } : {}),
    ...(opts.hypervisor ? { hypervisor: opts.hypervisor } : {}),
    ...(opts.format ? { format: opts.format } : {}),
  };
  return Object.keys(image).length ? { image } : {};
}

/** Default version: the file's modification time in seconds, as HEPiX lists used. */
export function defaultVersion(path: string): string {
  try {
    return String(Math.floor(statSync(path).mtimeMs / 1000));
  } catch {
    return isoSeconds(new Date());
  }
}

function baseFor(
  file: string,
  opts: AddImageOptions,
): Omit<CatalogEntry, 'id' | 'artifact'> & { id?: string } {
  return {
    kind: 'vm-image',
    name: opts.name ?? nameFromFile(file),
    version: opts.entryVersion ?? defaultVersion(file),
    ...(opts.id ? { id: opts.id } : {}),
    ...imageFields(opts),
    ...commonFields(opts),
  };
}

/** One file: as before. Several files: the same metadata for each, one catalog version for all. */
export async function addImage(ctx: Context, files: string[], opts: AddImageOptions): Promise<CommandResult> {
  const sha512 = opts.sha512 !== undefined ? { sha512: opts.sha512 } : {};
  if (files.length === 1) {
    const file = files[0] as string;
    const { entry, version, torrentPath } = await addArtifactEntry(ctx, file, baseFor(file, opts), sha512);
    return {
      data: { entry, catalogVersion: version, torrent: torrentPath },
      text: `added ${entry.name} ${entry.version} (${entry.id})\n  sha256 ${entry.artifact?.sha256}\n  infoHash ${entry.artifact?.infoHash}\ncatalog is now version ${version}`,
    };
  }
  if (opts.name || opts.id) throw new CliError('USAGE', '--name and --id apply to a single file');
  const bases = files.map((file) => baseFor(file, opts));
  const current = ctx.workspace.readCatalog().catalog;
  for (const [i, base] of bases.entries()) {
    requireValidFields(base);
    requireNoDuplicate(
      { ...current, entries: [...current.entries, ...(bases.slice(0, i) as CatalogEntry[])] },
      base,
    );
  }
  const items = [];
  for (const [i, file] of files.entries()) {
    const prepared = await prepareArtifact(ctx, file, sha512);
    const base = bases[i] as (typeof bases)[number];
    items.push({
      entry: {
        ...base,
        id: randomUUID(),
        artifact: prepared.artifact,
        produced: prepared.produced,
      } as CatalogEntry,
      prepared,
    });
  }
  const version = commitEntries(ctx, items);
  const entries = items.map((x) => x.entry);
  return {
    data: { entries, catalogVersion: version },
    text: `${entries.map((e) => `added ${e.name} ${e.version} (${e.id}) sha256 ${e.artifact?.sha256}`).join('\n')}\ncatalog is now version ${version}`,
  };
}
