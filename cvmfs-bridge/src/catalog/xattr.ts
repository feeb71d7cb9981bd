// Extended attributes blob (upstream cvmfs/xattr.cc Serialize): [u8 version=1][u8 count]
// then per attribute, keys sorted: [u8 keylen][u8 vallen][key][value]. Max 255 bytes each.
import { BridgeError } from '../errors.js';

export function encodeXattrs(xattrs: ReadonlyMap<string, Buffer> | undefined): Buffer | null {
  if (!xattrs || xattrs.size === 0) return null;
  if (xattrs.size > 255) throw new BridgeError('BAD_INPUT', 'more than 255 extended attributes on one entry');
  const parts: Buffer[] = [Buffer.from([1, xattrs.size])];
  for (const key of [...xattrs.keys()].sort()) {
    const keyBytes = Buffer.from(key);
    const value = xattrs.get(key) ?? Buffer.alloc(0);
    if (keyBytes.length === 0 || keyBytes.length > 255 || value.length > 255) {
      throw new BridgeError('BAD_INPUT', `extended attribute ${key} is empty or longer than 255 bytes`);
    }
    parts.push(Buffer.from([keyBytes.length, value.length]), keyBytes, value);
  }
  return Buffer.concat(parts);
}

export function decodeXattrs(blob: Buffer | null | undefined): Map<string, Buffer> | undefined {
  if (!blob || blob.length === 0) return undefined;
  if (blob.length < 2 || blob[0] !== 1)
    throw new BridgeError('CATALOG_INVALID', 'extended attribute blob has an unknown version');
  const count = blob[1] ?? 0;
  const map = new Map<string, Buffer>();
  let at = 2;
  for (let i = 0; i < count; i++) {
    const keyLength = blob[at] ?? -1;
    const valueLength = blob[at + 1] ?? -1;
    if (keyLength < 0 || valueLength < 0 || at + 2 + keyLength + valueLength > blob.length) {
      throw new BridgeError('CATALOG_INVALID', 'extended attribute blob is truncated');
    }
    const key = blob.subarray(at + 2, at + 2 + keyLength).toString();
    map.set(key, Buffer.from(blob.subarray(at + 2 + keyLength, at + 2 + keyLength + valueLength)));
    at += 2 + keyLength + valueLength;
  }
  return map;
}
