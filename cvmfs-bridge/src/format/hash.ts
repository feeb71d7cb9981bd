// Content addressing as upstream CVMFS does it (cvmfs/crypto/hash.h): SHA-1 of the stored bytes,
// object paths data/XX/REST[suffix], and the MD5 path keys of the file catalogs.
import { hash } from 'node:crypto';

export type ObjectSuffix = '' | 'C' | 'X' | 'H' | 'M' | 'P';

export const EMPTY_MD5_HEX = 'd41d8cd98f00b204e9800998ecf8427e';

export function sha1Hex(data: Buffer | string): string {
  // crypto.hash: one call, no Hash object (these run once per object or path).
  return hash('sha1', data, 'hex');
}

export function isSha1Hex(text: string): boolean {
  return /^[0-9a-f]{40}$/.test(text);
}

/** Path of an object relative to the repository root. */
export function objectPath(hashHex: string, suffix: ObjectSuffix = ''): string {
  return `data/${hashHex.slice(0, 2)}/${hashHex.slice(2)}${suffix}`;
}

export interface PathKey {
  readonly hi: bigint;
  readonly lo: bigint;
}

// Writing a tree asks for the same keys over and over (each row's parent, lookups before
// writes): a bounded memo of recent paths saves most MD5s. Keys are immutable values.
const keyMemo = new Map<string, PathKey>();
const KEY_MEMO_ENTRIES = 65_536;

/** MD5 path key: bytes 0–7 and 8–15 of md5(path) as signed little-endian int64. */
export function md5PathKey(absolutePath: string): PathKey {
  const known = keyMemo.get(absolutePath);
  if (known) return known;
  const digest = hash('md5', absolutePath, 'buffer');
  const key = { hi: digest.readBigInt64LE(0), lo: digest.readBigInt64LE(8) };
  if (keyMemo.size >= KEY_MEMO_ENTRIES) keyMemo.clear();
  keyMemo.set(absolutePath, key);
  return key;
}

/** The root's parent key is (0,0). */
export const ROOT_PARENT_KEY: PathKey = { hi: 0n, lo: 0n };

export function parentPath(absolutePath: string): string {
  const slash = absolutePath.lastIndexOf('/');
  return slash <= 0 ? '' : absolutePath.slice(0, slash);
}

export function baseName(absolutePath: string): string {
  return absolutePath.slice(absolutePath.lastIndexOf('/') + 1);
}

/** Joins a catalog-style path ('' is the root) with one name. */
export function joinPath(dir: string, name: string): string {
  return `${dir}/${name}`;
}
