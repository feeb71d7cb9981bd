// What an untrusted layer may contain, checked member by member before anything is written:
// names confined to the layer (no absolute names, no '..', no writing through a symlink),
// device nodes and setuid/setgid bits handled by the configured policy, size and count limits.
import type { ContainerConfig } from './config.js';
import { ContainerError } from './errors.js';
import { CATALOG_MARKERS } from './layout.js';

export type MemberKind = 'dir' | 'file' | 'symlink' | 'special';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

/** Splits a member name into safe components; throws LAYER_UNSAFE for escaping names. */
export function memberComponents(name: string, config: ContainerConfig): string[] {
  if (name.includes('\0')) throw new ContainerError('LAYER_UNSAFE', `member name contains a NUL byte`);
  if (Buffer.byteLength(name) > config.maxPathBytes)
    throw new ContainerError(
      'LIMIT_EXCEEDED',
      `member name longer than ${config.maxPathBytes} bytes: ${name.slice(0, 80)}…`,
    );
  if (name.startsWith('/')) throw new ContainerError('LAYER_UNSAFE', `member has an absolute name: ${name}`);
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new ContainerError('LAYER_UNSAFE', `member name contains '..': ${name}`);
    if (Buffer.byteLength(part) > 255)
      throw new ContainerError('LAYER_UNSAFE', `member name component longer than 255 bytes: ${name}`);
    parts.push(part);
  }
  return parts;
}

/** Names the converter never writes: catalog markers (they would reshape the repository). */
export function isIgnoredName(base: string): boolean {
  return CATALOG_MARKERS.has(base) || (base.startsWith('.wh..wh.') && base !== OPAQUE_WHITEOUT);
}

/** Applies the setuid policy to permission bits; throws LAYER_UNSAFE under `reject`. */
export function permissionBits(mode: number, name: string, config: ContainerConfig): number {
  const bits = mode & 0o7777;
  if ((bits & 0o6000) === 0 || config.setuidPolicy === 'keep') return bits;
  if (config.setuidPolicy === 'reject')
    throw new ContainerError('LAYER_UNSAFE', `member ${name} has the setuid or setgid bit (policy: reject)`);
  return bits & ~0o6000;
}

/**
 * Tracks the kinds of the layer's own paths so that a member below a symlink (or below a
 * file) is refused: writing "through" a symlink is how extraction escapes its target.
 * Returns the ancestors that the layer did not name (implicit directories).
 */
export class LayerPaths {
  private readonly kinds = new Map<string, MemberKind>();
  readonly implicitDirs = new Set<string>();

  /**
   * The ancestors of a member, top first ('a', 'a/b' for 'a/b/c'), memoised per parent: members
   * of one directory come together, and the same strings (hashed once) keep the lookups of
   * `kinds` cheap instead of slicing and hashing every prefix again per member.
   */
  private ancestors(parts: readonly string[]): readonly string[] {
    if (parts.length < 2) return [];
    const parent = parts.length === 2 ? (parts[0] as string) : parts.slice(0, -1).join('/');
    let chain = this.ancestorMemo.get(parent);
    if (chain === undefined) {
      chain = [...this.ancestors(parts.slice(0, -1)), parent];
      if (this.ancestorMemo.size >= 16_384) this.ancestorMemo.clear();
      this.ancestorMemo.set(parent, chain);
    }
    return chain;
  }

  private readonly ancestorMemo = new Map<string, readonly string[]>();

  /** The first ancestor the layer made a non-directory, with its kind. */
  blockedBy(parts: readonly string[]): { path: string; kind: MemberKind } | undefined {
    for (const prefix of this.ancestors(parts)) {
      const kind = this.kinds.get(prefix);
      if (kind !== undefined && kind !== 'dir') return { path: prefix, kind };
    }
    return undefined;
  }

  /** Refuses writing through a non-directory; returns the ancestors implied now, top first. */
  checkParents(parts: readonly string[], name: string): string[] {
    const blocked = this.blockedBy(parts);
    if (blocked)
      throw new ContainerError(
        'LAYER_UNSAFE',
        `member ${name} is written through the ${blocked.kind} ${blocked.path}`,
      );
    const implied: string[] = [];
    for (const prefix of this.ancestors(parts)) {
      if (!this.kinds.has(prefix)) {
        this.kinds.set(prefix, 'dir');
        this.implicitDirs.add(prefix);
        implied.push(prefix);
      }
    }
    return implied;
  }

  /** Takes back directories checkParents implied for a member that is not written. */
  forget(implied: readonly string[]): void {
    for (const dir of implied) {
      this.kinds.delete(dir);
      this.implicitDirs.delete(dir);
    }
  }

  record(path: string, kind: MemberKind): void {
    this.kinds.set(path, kind);
    this.implicitDirs.delete(path);
  }

  kindOf(path: string): MemberKind | undefined {
    return this.kinds.get(path);
  }
}
