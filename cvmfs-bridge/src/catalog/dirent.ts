// One catalog row as TypeScript sees it, and the mapping to the SQLite columns and flag bits
// of catalog schema 2.5 (upstream cvmfs/catalog_sql.cc CreateDatabaseFlags).

export type DirentKind = 'dir' | 'file' | 'symlink' | 'special';

export interface Dirent {
  readonly name: string;
  readonly kind: DirentKind;
  /** Full st_mode including the file type bits. */
  readonly mode: number;
  /** Regular file: uncompressed size; symlink: target length; special: rdev; dir: 4096. */
  readonly sizeBytes: number;
  readonly mtime: number;
  readonly mtimeNs?: number;
  readonly uid: number;
  readonly gid: number;
  /** Hex SHA-1 of the stored object (regular files only). */
  readonly hash?: string;
  /** False when the object is stored without zlib (incompressible content). */
  readonly compressed?: boolean;
  readonly symlink?: string;
  readonly linkcount: number;
  readonly hardlinkGroup: number;
  readonly xattrs?: ReadonlyMap<string, Buffer>;
  readonly nestedRoot?: boolean;
  readonly nestedMountpoint?: boolean;
}

export const FLAG = {
  dir: 1,
  nestedMountpoint: 2,
  file: 4,
  link: 8,
  special: 16,
  nestedRoot: 32,
  chunked: 64,
  external: 128,
  posHash: 8,
  posCompression: 11,
} as const;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export function direntFlags(d: Dirent): number {
  if (d.kind === 'dir') {
    if (d.nestedRoot) return FLAG.dir | FLAG.nestedRoot;
    if (d.nestedMountpoint) return FLAG.dir | FLAG.nestedMountpoint;
    return FLAG.dir;
  }
  if (d.kind === 'symlink') return FLAG.file | FLAG.link;
  if (d.kind === 'special') return FLAG.file | FLAG.special;
  // SHA-1 is algorithm 1, stored as (algorithm - 1) = 0 in bits 8–10; compression 0 zlib, 1 none.
  return FLAG.file | ((d.compressed === false ? 1 : 0) << FLAG.posCompression);
}

export function kindFromFlags(flags: number): DirentKind {
  if (flags & FLAG.dir) return 'dir';
  if (flags & FLAG.link) return 'symlink';
  if (flags & FLAG.special) return 'special';
  return 'file';
}

export function isCompressedFlag(flags: number): boolean {
  return ((flags >> FLAG.posCompression) & 7) === 0;
}

export function directoryDirent(name: string, mode = 0o755, mtime = Math.floor(Date.now() / 1000)): Dirent {
  return {
    name,
    kind: 'dir',
    mode: S_IFDIR | (mode & 0o7777),
    sizeBytes: 4096,
    mtime,
    uid: 0,
    gid: 0,
    linkcount: 2,
    hardlinkGroup: 0,
  };
}
