// Adds the contents of a tar stream under a repository path (like `cvmfs_server ingest`).
// Names are confined to the target: absolute names, '..' components, hard links to places
// outside the archive and symlinks that resolve outside the target path are refused, and the
// whole transaction then aborts, so nothing of a bad archive is ever published.
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { BridgeError } from '../errors.js';
import { normalizeRepoPath, resolveLinkTarget } from '../format/repo-path.js';
import { type EntryMeta, makeDev, type Transaction } from './transaction.js';

export interface TarImportOptions {
  /** Accept symlinks with absolute targets (e.g. into another /cvmfs repository). */
  readonly allowAbsoluteSymlinks?: boolean;
}

export interface TarImportStats {
  entries: number;
  files: number;
}

/** Checks one archive member name and maps it under `dest`; throws BAD_PATH for unsafe names. */
export function safeMemberPath(dest: string, name: string): string {
  if (name.startsWith('/')) throw new BridgeError('BAD_PATH', `tar member has an absolute name: ${name}`);
  if (name.split('/').includes('..'))
    throw new BridgeError('BAD_PATH', `tar member name contains '..': ${name}`);
  return normalizeRepoPath(`${dest}/${name}`);
}

function metaOf(h: Header): EntryMeta {
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(h.pax ?? {})) {
    if (key.startsWith('SCHILY.xattr.'))
      xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(value, 'latin1'));
  }
  const mtimeMs = h.mtime ? h.mtime.getTime() : Date.now();
  return {
    mode: (h.mode ?? 0o644) & 0o7777,
    mtime: Math.floor(mtimeMs / 1000),
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    ...(xattrs.size > 0 ? { xattrs } : {}),
  };
}

export async function importTar(
  tx: Transaction,
  input: Readable,
  destPath: string,
  options: TarImportOptions = {},
): Promise<TarImportStats> {
  const dest = normalizeRepoPath(destPath);
  const stats: TarImportStats = { entries: 0, files: 0 };
  const seen = new Set<string>();
  const archive = extract();
  input.on('error', (error) => archive.destroy(error));
  input.pipe(archive as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of archive) {
      const h = entry.header;
      stats.entries++;
      const path = safeMemberPath(dest, h.name);
      const meta = metaOf(h);
      switch (h.type as Header['type'] | 'pax-global-header') {
        case 'file':
        case 'contiguous-file':
          // tar-stream entries are streamx Readables, which node's stream pipeline accepts.
          await tx.addFile(path, entry as unknown as Readable, meta);
          stats.files++;
          break;
        case 'directory':
          entry.resume();
          await tx.addDirectory(path, meta);
          break;
        case 'pax-global-header':
          entry.resume();
          continue;
        case 'symlink': {
          entry.resume();
          const target = h.linkname ?? '';
          const dir = path.slice(0, path.lastIndexOf('/'));
          const absoluteOk = target.startsWith('/') && options.allowAbsoluteSymlinks === true;
          if (!absoluteOk && resolveLinkTarget(dir, target, dest) === undefined) {
            throw new BridgeError(
              'BAD_PATH',
              `symlink ${h.name} -> ${target} points outside the target path`,
            );
          }
          await tx.addSymlink(path, target, meta);
          break;
        }
        case 'link': {
          entry.resume();
          const target = safeMemberPath(dest, h.linkname ?? '');
          if (!seen.has(target))
            throw new BridgeError('BAD_PATH', `hard link ${h.name} -> ${h.linkname} names no earlier member`);
          await tx.addHardLink(path, target);
          break;
        }
        case 'character-device':
        case 'block-device':
        case 'fifo':
          entry.resume();
          await tx.addSpecial(
            path,
            h.type === 'fifo' ? 'fifo' : h.type === 'character-device' ? 'char' : 'block',
            makeDev(h.devmajor ?? 0, h.devminor ?? 0),
            meta,
          );
          break;
        default:
          throw new BridgeError('BAD_INPUT', `tar member ${h.name} has unsupported type ${h.type}`);
      }
      seen.add(path);
    }
  } catch (error) {
    archive.destroy();
    input.destroy();
    if (error instanceof BridgeError) throw error;
    throw new BridgeError('BAD_INPUT', `cannot read tar stream: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return stats;
}
