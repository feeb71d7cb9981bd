// diff A B: what changed between two catalog versions (numbers from the workspace history,
// or catalog files): header fields, entries added, removed and changed field by field.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Catalog, CatalogEntry } from '@trustswarm/policy';
import type { CommandResult, Context } from '../lib/context.js';
import { fsError } from '../lib/errors.js';
import { parseCatalogOrFail } from '../lib/workspace.js';

interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

function loadSide(ctx: Context, arg: string): { label: string; catalog: Catalog } {
  const path = /^\d+$/.test(arg) && !existsSync(arg) ? ctx.workspace.versionPath(Number(arg)) : resolve(arg);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw fsError(err, `catalog ${arg}`);
  }
  return { label: arg, catalog: parseCatalogOrFail(bytes, path) };
}

/** Leaves of a JSON value as dotted paths (arrays compared whole: order matters in YAML). */
function flatten(value: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, value);
  }
  return out;
}

export function fieldChanges(a: unknown, b: unknown): FieldChange[] {
  const fa = flatten(a, '', new Map());
  const fb = flatten(b, '', new Map());
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  return keys
    .filter((k) => JSON.stringify(fa.get(k)) !== JSON.stringify(fb.get(k)))
    .map((k) => ({ field: k, from: fa.get(k), to: fb.get(k) }));
}

const label = (e: CatalogEntry) => `${e.name} ${e.version} (${e.id})`;

export function diff(ctx: Context, a: string, b: string): CommandResult {
  const left = loadSide(ctx, a);
  const right = loadSide(ctx, b);
  const { entries: ea, ...headerA } = left.catalog;
  const { entries: eb, ...headerB } = right.catalog;
  const header = fieldChanges(headerA, headerB);
  const byIdA = new Map(ea.map((e) => [e.id, e]));
  const byIdB = new Map(eb.map((e) => [e.id, e]));
  const added = eb.filter((e) => !byIdA.has(e.id));
  const removed = ea.filter((e) => !byIdB.has(e.id));
  const changed = eb.flatMap((e) => {
    const before = byIdA.get(e.id);
    if (!before) return [];
    const fields = fieldChanges(before, e);
    return fields.length ? [{ id: e.id, name: e.name, fields }] : [];
  });
  const sameCatalog = left.catalog.id === right.catalog.id;
  const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));
  const lines = [
    `${left.catalog.name} v${left.catalog.version} → ${right.catalog.name} v${right.catalog.version}${sameCatalog ? '' : ' (different catalog ids!)'}`,
    ...header.map((c) => `  ~ ${c.field}: ${show(c.from)} → ${show(c.to)}`),
    ...added.map((e) => `  + ${label(e)}`),
    ...removed.map((e) => `  - ${label(e)}`),
    ...changed.flatMap((c) => [
      `  ~ ${c.name} (${c.id})`,
      ...c.fields.map((f) => `      ${f.field}: ${show(f.from)} → ${show(f.to)}`),
    ]),
  ];
  if (header.length + added.length + removed.length + changed.length === 0) lines.push('  no differences');
  return {
    data: {
      from: { id: left.catalog.id, version: left.catalog.version },
      to: { id: right.catalog.id, version: right.catalog.version },
      sameCatalog,
      header,
      added,
      removed,
      changed,
    },
    text: lines.join('\n'),
  };
}
