// add image FILE: a VM image entry (hashes, .torrent, image metadata).

import { statSync } from 'node:fs';
import type { CatalogEntry } from '@trustswarm/policy';
import type { CommandResult, Context } from '../lib/context.js';
import { addArtifactEntry, commonFields, type EntryOptions, nameFromFile } from '../lib/entries.js';
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

export async function addImage(ctx: Context, file: string, opts: AddImageOptions): Promise<CommandResult> {
  const { entry, version, torrentPath } = await addArtifactEntry(
    ctx,
    file,
    {
      kind: 'vm-image',
      name: opts.name ?? nameFromFile(file),
      version: opts.entryVersion ?? defaultVersion(file),
      ...(opts.id ? { id: opts.id } : {}),
      ...imageFields(opts),
      ...commonFields(opts),
    },
    { ...(opts.sha512 !== undefined ? { sha512: opts.sha512 } : {}) },
  );
  return {
    data: { entry, catalogVersion: version, torrent: torrentPath },
    text: `added ${entry.name} ${entry.version} (${entry.id})\n  sha256 ${entry.artifact?.sha256}\n  infoHash ${entry.artifact?.infoHash}\ncatalog is now version ${version}`,
  };
}
