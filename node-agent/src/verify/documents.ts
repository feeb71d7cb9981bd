// The parts of the Approval and Catalog formats (DESIGN.md) the agent reads. Interim:
// @trustswarm/policy will own these schemas; the agent switches to its parsers when they land.

import { isAlias, isNode, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { AgentError } from '../errors.js';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const isoDate = z.union([z.string(), z.date()]).transform((v, ctx) => {
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) ctx.addIssue({ code: 'custom', message: 'invalid date' });
  return d;
});

export const approvalSchema = z.object({
  apiVersion: z.literal('trustswarm/v1'),
  kind: z.literal('Approval'),
  site: z.string().min(1),
  version: z.number().int().nonnegative(),
  issued: isoDate,
  expires: isoDate,
  catalogs: z.array(
    z.object({
      id: z.string().min(1),
      version: z.number().int().nonnegative(),
      sha256: hex64,
      entries: z.array(z.object({ id: z.string().min(1), sha256: hex64 })),
    }),
  ),
});

export const catalogEntrySchema = z.object({
  id: z.string().min(1),
  kind: z.enum(['vm-image', 'repo-snapshot', 'container-image']),
  name: z.string(),
  version: z.string().optional(),
  produced: isoDate.optional(),
  artifact: z
    .object({
      size: z.number().int().nonnegative(),
      sha256: hex64,
      sha512: z.string().optional(),
      infoHash: z.string().regex(/^[0-9a-f]{40}$/),
      torrent: z.object({ sha256: hex64 }),
    })
    .optional(),
  image: z.record(z.string(), z.unknown()).optional(),
  voTags: z.array(z.string()).default([]),
  distribution: z
    .object({
      cluster: z.string().optional(),
      subcluster: z.string().optional(),
      hosts: z.array(z.string()).default([]),
    })
    .default({ hosts: [] }),
});

export const catalogSchema = z.object({
  apiVersion: z.literal('trustswarm/v1'),
  kind: z.literal('Catalog'),
  id: z.string().min(1),
  name: z.string(),
  version: z.number().int().nonnegative(),
  issued: isoDate,
  expires: isoDate,
  entries: z.array(catalogEntrySchema),
});

export type Approval = z.infer<typeof approvalSchema>;
export type Catalog = z.infer<typeof catalogSchema>;
export type CatalogEntry = z.infer<typeof catalogEntrySchema>;

/** Strict YAML: no aliases, no custom tags, no duplicate keys, size-limited. */
export function parseStrict<T>(bytes: Uint8Array, schema: z.ZodType<T>, what: string, maxBytes: number): T {
  if (bytes.length > maxBytes)
    throw new AgentError('VERIFY_FAILED', `${what}: document over ${maxBytes} bytes`);
  const doc = parseDocument(Buffer.from(bytes).toString('utf8'), { uniqueKeys: true, customTags: [] });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new AgentError('VERIFY_FAILED', `${what}: ${problem.message}`);
  let hasAnchor = false;
  visit(doc, (_key, node) => {
    if (isAlias(node) || (isNode(node) && node.anchor)) hasAnchor = true;
  });
  if (hasAnchor) throw new AgentError('VERIFY_FAILED', `${what}: YAML anchors and aliases are not allowed`);
  const result = schema.safeParse(doc.toJS({ maxAliasCount: 0 }));
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AgentError('VERIFY_FAILED', `${what}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return result.data;
}
