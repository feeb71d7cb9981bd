// Parses the exact bytes of a signed document as YAML, refusing every construct that lets
// two readers see different data: anchors/aliases, explicit tags, duplicate keys, several
// documents in one file, and anything over the size limit.

import { isAlias, isCollection, isScalar, LineCounter, parseAllDocuments, visit } from 'yaml';
import { TrustError } from './errors.js';

export const DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

export interface ParseOptions {
  /** Largest accepted document in bytes (default 16 MiB). */
  maxDocumentBytes?: number;
  /** Name used in error messages, e.g. "catalog.yaml". */
  documentName?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

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
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    uniqueKeys: true,
    schema: 'core',
    lineCounter,
    prettyErrors: false,
  });
  if (!Array.isArray(docs)) throw new TrustError('PARSE_ERROR', 'empty document', { document: name });
  if (docs.length !== 1) {
    throw new TrustError('PARSE_ERROR', `expected exactly one YAML document, found ${docs.length}`, {
      document: name,
    });
  }
  const [doc] = docs as [(typeof docs)[number]];
  const where = (offset: number | undefined): string => {
    if (offset === undefined) return '';
    const pos = lineCounter.linePos(offset);
    return ` (line ${pos.line}, column ${pos.col})`;
  };
  const firstError = doc.errors[0];
  if (firstError) {
    const duplicate = firstError.code === 'DUPLICATE_KEY';
    const message = duplicate ? 'duplicate key' : firstError.message.split('\n')[0];
    throw new TrustError('PARSE_ERROR', `${message}${where(firstError.pos[0])}`, { document: name });
  }
  visit(doc, (_key, node) => {
    if (isAlias(node)) {
      throw new TrustError(
        'PARSE_ERROR',
        `YAML alias *${node.source} is not allowed${where(node.range?.[0])}`,
        {
          document: name,
        },
      );
    }
    if (isScalar(node) || isCollection(node)) {
      if (node.anchor) {
        throw new TrustError(
          'PARSE_ERROR',
          `YAML anchor &${node.anchor} is not allowed${where(node.range?.[0])}`,
          {
            document: name,
          },
        );
      }
      if (node.tag) {
        throw new TrustError('PARSE_ERROR', `YAML tag ${node.tag} is not allowed${where(node.range?.[0])}`, {
          document: name,
        });
      }
    }
  });
  return doc.toJS({ maxAliasCount: 0 });
}
