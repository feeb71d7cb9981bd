// Parses the exact bytes of a signed document as YAML, refusing every construct that lets
// two readers see different data: anchors/aliases, explicit tags, duplicate keys, several
// documents in one file, and anything over the size limit. Built on js-yaml's event
// parser: the event stream is checked before any value is constructed.

import { CORE_SCHEMA, constructFromEvents, dump, EVENT_ID, type Event, parseEvents } from 'js-yaml';
import { TrustError } from './errors.js';
import { parseFastYaml } from './fast-yaml.js';

export const DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
const MAX_NESTING_DEPTH = 32;

export interface ParseOptions {
  /** Largest accepted document in bytes (default 16 MiB). */
  maxDocumentBytes?: number;
  /** Name used in error messages, e.g. "catalog.yaml". */
  documentName?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function position(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return ` (line ${line}, column ${offset - lineStart + 1})`;
}

/** js-yaml reports "message (line:column)"; keep the first line in our own words. */
function parserMessage(err: unknown): string {
  const raw = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
  const m = /^(.*?) \((\d+):(\d+)\)$/.exec(raw);
  if (!m) return raw;
  const what = m[1] === 'duplicated mapping key' ? 'duplicate key' : m[1];
  return `${what} (line ${m[2]}, column ${m[3]})`;
}

function rejectUnsafeEvents(events: Event[], text: string, name: string): void {
  let documents = 0;
  for (const event of events) {
    if (event.type === EVENT_ID.DOCUMENT) documents++;
    else if (event.type === EVENT_ID.ALIAS) {
      const alias = text.slice(event.anchorStart, event.anchorEnd);
      throw new TrustError(
        'PARSE_ERROR',
        `YAML alias *${alias} is not allowed${position(text, event.anchorStart)}`,
        {
          document: name,
        },
      );
    } else if (event.type !== EVENT_ID.POP) {
      if (event.anchorStart !== -1) {
        const anchor = text.slice(event.anchorStart, event.anchorEnd);
        throw new TrustError(
          'PARSE_ERROR',
          `YAML anchor &${anchor} is not allowed${position(text, event.anchorStart)}`,
          {
            document: name,
          },
        );
      }
      if (event.tagStart !== -1) {
        const tag = text.slice(event.tagStart, event.tagEnd);
        throw new TrustError(
          'PARSE_ERROR',
          `YAML tag ${tag} is not allowed${position(text, event.tagStart)}`,
          {
            document: name,
          },
        );
      }
    }
  }
  if (documents !== 1) {
    throw new TrustError('PARSE_ERROR', `expected exactly one YAML document, found ${documents}`, {
      document: name,
    });
  }
}

export function parseStrictYaml(bytes: Uint8Array, options: ParseOptions = {}): unknown {
  const name = options.documentName ?? 'document';
  const maxBytes = options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
  if (bytes.byteLength > maxBytes) {
    throw new TrustError(
      'DOCUMENT_TOO_LARGE',
      `${bytes.byteLength} bytes exceeds the limit of ${maxBytes} bytes`,
      {
        document: name,
      },
    );
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new TrustError('PARSE_ERROR', 'not valid UTF-8', { document: name });
  }
  const fast = parseFastYaml(text);
  if (fast !== undefined) return fast;
  try {
    const events = parseEvents(text, { maxDepth: MAX_NESTING_DEPTH });
    rejectUnsafeEvents(events, text, name);
    const [value] = constructFromEvents(events, {
      source: text,
      schema: CORE_SCHEMA,
      json: false,
      maxAliases: 0,
    });
    return value;
  } catch (err) {
    if (err instanceof TrustError) throw err;
    throw new TrustError('PARSE_ERROR', parserMessage(err), { document: name });
  }
}

/** Block-style YAML with no anchors, read back identically by parseStrictYaml. */
export function stringifyYaml(value: unknown): string {
  return dump(value, { schema: CORE_SCHEMA, noRefs: true, lineWidth: -1, sortKeys: false });
}
