// Parsing and writing of the three signed document kinds. Parse the exact bytes that were
// verified; write canonical YAML whose bytes are then signed as they are.

import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { TrustError } from './errors.js';
import {
  API_VERSION,
  type Approval,
  approvalSchema,
  type Catalog,
  catalogSchema,
  type TrustList,
  trustListSchema,
} from './schema.js';
import { type ParseOptions, parseStrictYaml, stringifyYaml } from './strict-yaml.js';

const MAX_REPORTED_ISSUES = 20;

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(document)';
}

function parseWith<S extends z.ZodType>(
  schema: S,
  kind: string,
  bytes: Uint8Array,
  options: ParseOptions,
): z.infer<S> {
  const documentName = options.documentName ?? `${kind.toLowerCase()}.yaml`;
  const raw = parseStrictYaml(bytes, { ...options, documentName });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TrustError('SCHEMA_INVALID', 'expected a mapping at the top level', { document: documentName });
  }
  const head = raw as { apiVersion?: unknown; kind?: unknown };
  if (head.apiVersion !== API_VERSION) {
    throw new TrustError(
      'SCHEMA_INVALID',
      `apiVersion: unknown apiVersion ${JSON.stringify(head.apiVersion)}`,
      {
        document: documentName,
      },
    );
  }
  if (head.kind !== kind) {
    throw new TrustError('SCHEMA_INVALID', `kind: expected ${kind}, found ${JSON.stringify(head.kind)}`, {
      document: documentName,
    });
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const reasons = result.error.issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => ({
      code: 'SCHEMA_INVALID' as const,
      message: `${documentName}: ${formatPath(issue.path)}: ${issue.message}`,
    }));
    const first = reasons[0]?.message.slice(documentName.length + 2) ?? 'invalid';
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    throw new TrustError('SCHEMA_INVALID', `${first}${more}`, { document: documentName, reasons });
  }
  return result.data;
}

export function parseCatalog(bytes: Uint8Array, options: ParseOptions = {}): Catalog {
  return parseWith(catalogSchema, 'Catalog', bytes, options);
}

export function parseApproval(bytes: Uint8Array, options: ParseOptions = {}): Approval {
  return parseWith(approvalSchema, 'Approval', bytes, options);
}

export function parseTrustList(bytes: Uint8Array, options: ParseOptions = {}): TrustList {
  return parseWith(trustListSchema, 'TrustList', bytes, options);
}

/**
 * Canonical YAML for a document: validated first (so nothing invalid is ever signed), block
 * style, no anchors, keys in the order of the object. The result is what gets signed.
 */
export function serializeDocument(doc: Catalog | Approval | TrustList): Buffer {
  const schema =
    doc.kind === 'Catalog' ? catalogSchema : doc.kind === 'Approval' ? approvalSchema : trustListSchema;
  const checked = schema.safeParse(doc);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const where = issue ? `${formatPath(issue.path)}: ${issue.message}` : 'invalid';
    throw new TrustError('SCHEMA_INVALID', `refusing to write an invalid ${doc.kind}: ${where}`);
  }
  return Buffer.from(stringifyYaml(checked.data), 'utf8');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
