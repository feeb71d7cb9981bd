// Normalises user-supplied repository paths to the catalog form ('' for the root, '/a/b'
// otherwise) and refuses anything that could name a place outside the repository.
import { BridgeError } from '../errors.js';

/** Accepts 'a/b', '/a/b', './a/b/', '' or '/'; rejects '..', NUL and empty components. */
export function normalizeRepoPath(input: string): string {
  if (input.includes('\0'))
    throw new BridgeError('BAD_PATH', `path contains a NUL byte: ${JSON.stringify(input)}`);
  const parts: string[] = [];
  for (const part of input.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new BridgeError('BAD_PATH', `path must not contain '..': ${input}`);
    if (Buffer.byteLength(part) > 255)
      throw new BridgeError('BAD_PATH', `path component longer than 255 bytes: ${part}`);
    parts.push(part);
  }
  return parts.length === 0 ? '' : `/${parts.join('/')}`;
}

/** Lexically resolves a symlink target against the link's directory; undefined if it escapes `root`. */
export function resolveLinkTarget(linkDir: string, target: string, root: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  const parts = linkDir === '' ? [] : linkDir.slice(1).split('/');
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(part);
  }
  const resolved = parts.length === 0 ? '' : `/${parts.join('/')}`;
  const inside = root === '' || resolved === root || resolved.startsWith(`${root}/`);
  return inside ? resolved : undefined;
}
