// Makes a repository path mirror a local directory tree: new and changed entries are written,
// entries missing from the source are removed. A regular file whose size, mtime, mode and
// owner match its catalog row is taken as unchanged and not read at all (rsync's quick check;
// `checksum: true` reads and hashes everything instead, still without recompressing).
import { type BigIntStats, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Dirent, S_IFMT } from '../catalog/dirent.js';
import { BridgeError } from '../errors.js';
import { normalizeRepoPath } from '../format/repo-path.js';
import { AUTO_CATALOG_MARKER } from './catalog-tree.js';
import { readTreeXattrs, sameXattrs } from './dir-xattrs.js';
import type { EntryMeta, SpecialType, Transaction } from './transaction.js';

export interface DirImportOptions {
  readonly checksum?: boolean;
  /** Publish user.* extended attributes (read with getfattr; default true). */
  readonly xattrs?: boolean;
}

export interface DirImportStats {
  entriesSeen: number;
  filesQueued: number;
  removed: number;
}

function metaOf(st: BigIntStats, xattrs?: ReadonlyMap<string, Buffer>): EntryMeta {
  return {
    mode: Number(st.mode) & 0o7777,
    mtime: Number(st.mtimeMs / 1000n),
    mtimeNs: Number(st.mtimeNs % 1_000_000_000n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    ...(xattrs && xattrs.size > 0 ? { xattrs } : {}),
  };
}

function sameMeta(d: Dirent, st: BigIntStats, xattrs?: ReadonlyMap<string, Buffer>): boolean {
  const m = metaOf(st);
  return (
    d.mode === Number(st.mode) &&
    d.mtime === m.mtime &&
    (d.mtimeNs ?? 0) === m.mtimeNs &&
    d.uid === m.uid &&
    d.gid === m.gid &&
    sameXattrs(d.xattrs, xattrs)
  );
}

function specialType(st: BigIntStats): SpecialType | undefined {
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return undefined;
}

export async function importDirectory(
  tx: Transaction,
  sourceDir: string,
  destPath: string,
  options: DirImportOptions = {},
): Promise<DirImportStats> {
  const stats: DirImportStats = { entriesSeen: 0, filesQueued: 0, removed: 0 };
  const dest = normalizeRepoPath(destPath);
  let top: BigIntStats;
  try {
    top = lstatSync(sourceDir, { bigint: true });
  } catch {
    throw new BridgeError('NOT_FOUND', `source directory ${sourceDir} does not exist`);
  }
  if (!top.isDirectory()) throw new BridgeError('BAD_INPUT', `${sourceDir} is not a directory`);
  const root = resolve(sourceDir);
  const treeXattrs = options.xattrs === false ? new Map() : await readTreeXattrs(root);

  const walk = async (srcDir: string, repoDir: string, st: BigIntStats): Promise<void> => {
    const existingDir = tx.get(repoDir);
    const dirXattrs = treeXattrs.get(srcDir);
    if (existingDir?.kind !== 'dir' || !sameMeta(existingDir, st, dirXattrs))
      await tx.addDirectory(repoDir, metaOf(st, dirXattrs));
    const names = readdirSync(srcDir).sort();
    const present = new Set(names);
    // One query per directory instead of one lookup per entry.
    const before = new Map(tx.list(repoDir).map((d) => [d.name, d]));
    for (const old of before.values()) {
      if (!present.has(old.name) && old.name !== AUTO_CATALOG_MARKER) {
        await tx.remove(`${repoDir}/${old.name}`);
        stats.removed++;
      }
    }
    // Hard links are kept as groups only within one directory (as CVMFS does).
    const firstByInode = new Map<bigint, string>();
    for (const name of names) {
      stats.entriesSeen++;
      const src = join(srcDir, name);
      const path = `${repoDir}/${name}`;
      const est = lstatSync(src, { bigint: true });
      const existing = before.get(name);
      const xattrs = treeXattrs.get(src);
      if (est.isDirectory()) {
        await walk(src, path, est);
      } else if (est.isSymbolicLink()) {
        const target = readlinkSync(src);
        if (existing?.kind !== 'symlink' || existing.symlink !== target || !sameMeta(existing, est, xattrs)) {
          await tx.addSymlink(path, target, metaOf(est, xattrs));
        }
      } else if (est.isFile()) {
        const first = est.nlink > 1n ? firstByInode.get(est.ino) : undefined;
        if (first !== undefined) {
          const group = existing?.kind === 'file' ? existing.hardlinkGroup : 0;
          const linked = group !== 0 && tx.get(first)?.hardlinkGroup === group;
          if (!linked) await tx.addHardLink(path, first);
          continue;
        }
        if (est.nlink > 1n) firstByInode.set(est.ino, path);
        const unchanged =
          !options.checksum &&
          existing?.kind === 'file' &&
          existing.sizeBytes === Number(est.size) &&
          sameMeta(existing, est, xattrs);
        if (!unchanged) {
          await tx.addFile(path, { file: src }, metaOf(est, xattrs));
          stats.filesQueued++;
        }
      } else {
        const type = specialType(est);
        if (!type)
          throw new BridgeError(
            'BAD_INPUT',
            `${src} has an unsupported file type ${Number(est.mode) & S_IFMT}`,
          );
        if (
          existing?.kind !== 'special' ||
          existing.sizeBytes !== Number(est.rdev) ||
          !sameMeta(existing, est, xattrs)
        ) {
          await tx.addSpecial(path, type, Number(est.rdev), metaOf(est, xattrs));
        }
      }
    }
  };
  await walk(root, dest, top);
  return stats;
}
