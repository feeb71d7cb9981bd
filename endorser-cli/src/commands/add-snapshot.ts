// add repo-snapshot DIR|TAR: a software-repository snapshot the CVMFS bridge publishes at
// --repository/--path. A directory becomes a deterministic tar in artifacts/ first.

import { rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { produceAtomic } from '../lib/atomic.js';
import type { CommandResult, Context } from '../lib/context.js';
import { looksLikeTar, writeDeterministicTar } from '../lib/deterministic-tar.js';
import {
  addArtifactEntry,
  commonFields,
  type EntryOptions,
  nameFromFile,
  requireNoDuplicate,
  requireValidFields,
} from '../lib/entries.js';
import { CliError, fsError } from '../lib/errors.js';
import { isoSeconds } from '../lib/workspace.js';

export interface AddSnapshotOptions extends EntryOptions {
  repository: string;
  path: string;
  preserve?: boolean;
  sha512?: boolean;
}

export async function addRepoSnapshot(
  ctx: Context,
  source: string,
  opts: AddSnapshotOptions,
): Promise<CommandResult> {
  const sourcePath = resolve(source);
  const st = await stat(sourcePath).catch((err: unknown) => {
    throw fsError(err, `snapshot ${source}`);
  });
  const name = opts.name ?? nameFromFile(sourcePath);
  const version = opts.entryVersion ?? isoSeconds(new Date()).replace(/[-:]/g, '');
  const base = {
    kind: 'repo-snapshot' as const,
    name,
    version,
    ...(opts.id ? { id: opts.id } : {}),
    cvmfs: { repository: opts.repository, path: opts.path },
    ...commonFields(opts),
  };
  requireValidFields(base);
  requireNoDuplicate(ctx.workspace.readCatalog().catalog, base);
  let tarPath = sourcePath;
  let made = false;
  if (st.isDirectory()) {
    tarPath = join(ctx.workspace.artifactsDir, `${name}-${version}.tar`.replace(/[^A-Za-z0-9._+-]/g, '-'));
    await produceAtomic(tarPath, (temp) =>
      writeDeterministicTar(sourcePath, temp, { preserve: opts.preserve === true }),
    );
    made = true;
  } else if (!st.isFile()) {
    throw new CliError('ARTIFACT_UNREADABLE', `${source}: not a directory or regular file`);
  } else if (!(await looksLikeTar(sourcePath))) {
    throw new CliError('USAGE', `${source} is neither a directory nor a tar archive`);
  }
  try {
    const {
      entry,
      version: catalogVersion,
      torrentPath,
    } = await addArtifactEntry(ctx, tarPath, base, {
      ...(opts.sha512 !== undefined ? { sha512: opts.sha512 } : {}),
    });
    return {
      data: { entry, catalogVersion, torrent: torrentPath, tar: tarPath },
      text: `added snapshot ${entry.name} ${entry.version} for ${opts.repository}:${opts.path}\n  tar ${tarPath}\n  sha256 ${entry.artifact?.sha256}\ncatalog is now version ${catalogVersion}`,
    };
  } catch (err) {
    if (made) await rm(tarPath, { force: true });
    throw err;
  }
}
