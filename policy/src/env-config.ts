// One rule for every TrustSwarm program's environment overrides (DESIGN: every key has a
// default and is overridable by environment, `TSW_...`): TSW_<PROGRAM>_<KEY PATH>, the key
// path's camelCase words in upper snake case joined by "_" (agent transfer.uploadSlots →
// TSW_AGENT_TRANSFER_UPLOAD_SLOTS). Each program reads only its own prefix, so one shell or
// unit file can hold settings for several programs; a name under a program's prefix that is
// no config key of it is refused, since a misspelt override would otherwise be ignored.
// The names come from the zod schema itself, so a new config key is settable at once. An
// empty variable counts as unset (`VAR= tsw-...` undoes an exported setting).

import type { z } from 'zod';

export type EnvValueKind = 'number' | 'boolean' | 'string' | 'list';

export interface EnvKey {
  path: string[];
  name: string;
  kind: EnvValueKind;
}

export class EnvConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

type Tree = { [key: string]: unknown };

/** ['transfer', 'uploadSlots'] under TSW_AGENT → TSW_AGENT_TRANSFER_UPLOAD_SLOTS */
export function envName(prefix: string, path: readonly string[]): string {
  const words = path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase());
  return [prefix, ...words].join('_');
}

interface SchemaNode {
  def: { type: string; innerType?: SchemaNode; in?: SchemaNode; element?: SchemaNode };
  shape?: Record<string, SchemaNode>;
}

/** The schema under defaults, optionals and the like. */
function unwrap(node: SchemaNode): SchemaNode {
  let current = node;
  for (;;) {
    const { type, innerType } = current.def;
    if (innerType && ['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch'].includes(type))
      current = innerType;
    else if (type === 'pipe' && current.def.in) current = current.def.in;
    else return current;
  }
}

const KINDS: Record<string, EnvValueKind> = {
  number: 'number',
  int: 'number',
  boolean: 'boolean',
  string: 'string',
  enum: 'string',
  literal: 'string',
  url: 'string',
  array: 'list',
};

/** Every config key an environment variable can set (objects are walked, not set whole). */
export function envKeys(schema: z.ZodType, prefix: string): EnvKey[] {
  const keys: EnvKey[] = [];
  const walk = (node: SchemaNode, path: string[]): void => {
    for (const [key, child] of Object.entries(node.shape ?? {})) {
      const inner = unwrap(child);
      if (inner.def.type === 'object') walk(inner, [...path, key]);
      else {
        const kind = KINDS[inner.def.type];
        // a list of words (comma-separated); lists of objects only from the file
        const element = inner.def.element && unwrap(inner.def.element).def.type;
        if (kind === 'list' && !['string', 'enum', 'url'].includes(element ?? '')) continue;
        if (kind) keys.push({ path: [...path, key], name: envName(prefix, [...path, key]), kind });
      }
    }
  };
  walk(unwrap(schema as unknown as SchemaNode), []);
  return keys;
}

function coerce(raw: string, key: EnvKey): unknown {
  switch (key.kind) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw new EnvConfigError(`${key.name}: expected a number, got "${raw}"`);
      return n;
    }
    case 'boolean':
      if (['true', '1', 'yes'].includes(raw)) return true;
      if (['false', '0', 'no'].includes(raw)) return false;
      throw new EnvConfigError(`${key.name}: expected true or false, got "${raw}"`);
    case 'list':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    default:
      return raw;
  }
}

/**
 * The overrides `env` holds for a program, as a tree of typed values written into `into` (the
 * program's config file as parsed, so the environment wins over it) or a new tree. `reserved`:
 * names under the prefix that are not config keys but mean something else to the program (its
 * config file's path, a secret it reads by name).
 */
export function configFromEnv(
  schema: z.ZodType,
  prefix: string,
  env: Readonly<Record<string, string | undefined>>,
  options: { reserved?: readonly string[]; into?: Tree } = {},
): Tree {
  const keys = envKeys(schema, prefix);
  const byName = new Map(keys.map((k) => [k.name, k]));
  const reserved = new Set(options.reserved ?? []);
  const tree: Tree = options.into ?? {};
  for (const [name, raw] of Object.entries(env)) {
    if (!raw || !name.startsWith(`${prefix}_`) || reserved.has(name)) continue;
    const key = byName.get(name);
    if (!key) throw new EnvConfigError(`${name}: no such setting (names are ${prefix}_<KEY PATH>)`);
    let node = tree;
    for (const part of key.path.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
      node = node[part] as Tree;
    }
    node[key.path[key.path.length - 1] as string] = coerce(raw, key);
  }
  return tree;
}
