// Extended attributes of a directory tree, read with one `getfattr -R` (Debian package
// attr) rather than one process per file: Node has no xattr API. Only the user.*
// namespace is published; security.* and trusted.* describe the build host, not content.

import { execa } from 'execa';
import { BridgeError } from '../errors.js';

export type TreeXattrs = Map<string, Map<string, Buffer>>;

const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

/** getfattr writes bytes it would not print as \ooo octal escapes; undo that. */
function unescapePath(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  const chars = Array.from(text); // code points, so characters outside the BMP stay whole
  for (let i = 0; i < chars.length; i++) {
    const octal = chars[i] === '\\' ? /^[0-7]{3}/.exec(chars.slice(i + 1, i + 4).join('')) : null;
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 3;
    } else {
      bytes.push(...Buffer.from(chars[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parses `getfattr -d -e hex --absolute-names` output: "# file: PATH" then "name=0x…" lines. */
export function parseGetfattr(output: string): TreeXattrs {
  const tree: TreeXattrs = new Map();
  let current: Map<string, Buffer> | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      tree.set(unescapePath(line.slice('# file: '.length)), current);
    } else if (current && line.length > 0) {
      const eq = line.indexOf('=');
      if (eq <= 0)
        throw new BridgeError('BAD_INPUT', `unexpected getfattr output line: ${line.slice(0, 80)}`);
      const value = line.slice(eq + 1);
      if (!value.startsWith('0x'))
        throw new BridgeError('BAD_INPUT', `getfattr value not in hex: ${line.slice(0, 80)}`);
      current.set(line.slice(0, eq), Buffer.from(value.slice(2), 'hex'));
    }
  }
  return tree;
}

/** user.* extended attributes of every entry below `dir` (symlinks themselves, not followed). */
export async function readTreeXattrs(dir: string): Promise<TreeXattrs> {
  const r = await execa(
    'getfattr',
    [
      '--recursive',
      '--physical',
      '--no-dereference',
      '--dump',
      '--match=^user\\.',
      '--encoding=hex',
      '--absolute-names',
      dir,
    ],
    { reject: false, maxBuffer: MAX_OUTPUT_BYTES, stripFinalNewline: false },
  ).catch((err: unknown) => err as { code?: string; exitCode?: number; stderr?: string; stdout?: string });
  if ((r as { code?: string }).code === 'ENOENT') {
    throw new BridgeError(
      'CONFIG_INVALID',
      'getfattr is not installed (Debian package attr); it reads extended attributes of directory trees (or publish with xattrs off)',
    );
  }
  if (r.exitCode !== 0) {
    const why =
      String(r.stderr ?? '')
        .trim()
        .split('\n')[0] ?? `exit ${r.exitCode}`;
    throw new BridgeError('BAD_INPUT', `cannot read extended attributes under ${dir}: ${why}`);
  }
  return parseGetfattr(String(r.stdout ?? ''));
}

export function sameXattrs(
  a: ReadonlyMap<string, Buffer> | undefined,
  b: ReadonlyMap<string, Buffer> | undefined,
): boolean {
  const sizeA = a?.size ?? 0;
  if (sizeA !== (b?.size ?? 0)) return false;
  if (sizeA === 0) return true;
  for (const [name, value] of a ?? []) {
    const other = b?.get(name);
    if (!other?.equals(value)) return false;
  }
  return true;
}
