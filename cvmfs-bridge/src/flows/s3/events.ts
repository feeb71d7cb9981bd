// Reads one bucket-notification message (S3 event JSON "Records", as Ceph RGW, AWS or MinIO
// send it) into the changes it asks for. Pure and strict: any record that is malformed,
// names an unknown bucket, or whose key could reach outside the mapped path makes the whole
// message a rejection with a code and a reason; nothing of it is applied.
import { z } from 'zod';
import { normalizeRepoPath } from '../../format/repo-path.js';
import type { BucketMapping, S3FlowConfig } from '../config.js';
import { FlowError } from '../errors.js';

/** One object to bring in line with the bucket: publish it (or unpack it) or remove it. */
export interface ObjectChange {
  readonly repository: string;
  readonly bucket: string;
  /** The object key as S3 knows it (decoded). */
  readonly key: string;
  /** Repository path the object is published at (a tar: the directory it unpacks into). */
  readonly target: string;
  readonly kind: 'file' | 'tar';
  readonly action: 'put' | 'remove';
  readonly etag: string;
  readonly sizeBytes: number;
}

export type ParsedMessage = { readonly changes: ObjectChange[]; readonly ignored: number };

const RecordSchema = z.object({
  eventName: z.string().min(1).max(100),
  eventSource: z.string().max(100).optional(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1).max(255) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative().optional(),
      eTag: z.string().max(200).optional(),
    }),
  }),
});

const reject = (code: ConstructorParameters<typeof FlowError>[0], message: string): never => {
  throw new FlowError(code, message);
};

function actionOf(eventName: string): 'put' | 'remove' {
  const name = eventName.replace(/^s3:/, '');
  if (name.startsWith('ObjectCreated:')) return 'put';
  if (name.startsWith('ObjectRemoved:')) return 'remove';
  return reject('MESSAGE_INVALID', `unsupported event ${JSON.stringify(eventName.slice(0, 60))}`);
}

function decodeKey(
  raw: string,
  eventSource: string | undefined,
  encoding: S3FlowConfig['keyEncoding'],
): string {
  const url = encoding === 'url' || (encoding === 'auto' && !(eventSource ?? '').startsWith('ceph'));
  if (!url) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return reject('BAD_KEY', `key is not valid URL encoding: ${JSON.stringify(raw.slice(0, 200))}`);
  }
}

/** The repository path for `key` under `mapping`, or undefined when the key is not published. */
export function targetOf(
  mapping: BucketMapping,
  key: string,
  maxKeyBytes: number,
): { target: string; kind: 'file' | 'tar' } | undefined {
  const shown = JSON.stringify(key.slice(0, 200));
  if (Buffer.byteLength(key) > maxKeyBytes) reject('BAD_KEY', `key longer than ${maxKeyBytes} bytes`);
  if (key.includes('\0')) reject('BAD_KEY', `key contains a NUL byte: ${shown}`);
  if (!key.startsWith(mapping.prefix)) return undefined;
  const rel = key.slice(mapping.prefix.length);
  if (rel.startsWith('/')) reject('BAD_KEY', `key names an absolute path: ${shown}`);
  if (rel === '' || rel.endsWith('/')) return undefined; // "folder" placeholder objects
  const parts = rel.split('/');
  if (parts.includes('..')) reject('BAD_KEY', `key contains '..': ${shown}`);
  if (parts.includes('.') || parts.includes(''))
    reject('BAD_KEY', `key has empty or '.' components: ${shown}`);
  const tar = rel.endsWith('.tar');
  const published = tar ? rel.slice(0, -'.tar'.length) : rel;
  if (published === '' || published.endsWith('/')) reject('BAD_KEY', `tar key has no name: ${shown}`);
  try {
    const target = normalizeRepoPath(`${mapping.path}/${published}`);
    const base = normalizeRepoPath(mapping.path);
    if (target === base || !target.startsWith(base === '' ? '/' : `${base}/`))
      reject('BAD_KEY', `key maps outside ${mapping.path}: ${shown}`);
    return { target, kind: tar ? 'tar' : 'file' };
  } catch (error) {
    if (error instanceof FlowError) throw error;
    return reject('BAD_KEY', `${(error as Error).message}`);
  }
}

export function parseEventMessage(body: Buffer, config: S3FlowConfig): ParsedMessage {
  if (body.length > config.maxMessageBytes)
    reject('MESSAGE_TOO_LARGE', `message of ${body.length} bytes exceeds ${config.maxMessageBytes}`);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return reject('MESSAGE_INVALID', 'message is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    reject('MESSAGE_INVALID', 'message is not a JSON object');
  const records = (doc as { Records?: unknown }).Records;
  if ((doc as { Event?: unknown }).Event === 's3:TestEvent' && records === undefined)
    return { changes: [], ignored: 1 };
  if (!Array.isArray(records) || records.length === 0)
    reject('MESSAGE_INVALID', 'message has no "Records" list');
  const list = records as unknown[];
  if (list.length > config.maxRecordsPerMessage)
    reject('MESSAGE_INVALID', `message has ${list.length} records, limit ${config.maxRecordsPerMessage}`);
  const changes: ObjectChange[] = [];
  let ignored = 0;
  for (const [i, raw] of list.entries()) {
    const parsed = RecordSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      reject('MESSAGE_INVALID', `record ${i}: ${issue?.path.join('.')}: ${issue?.message}`);
      continue;
    }
    const record = parsed.data;
    const action = actionOf(record.eventName);
    const bucket = record.s3.bucket.name;
    const mapping = config.buckets.find((b) => b.bucket === bucket);
    if (!mapping) reject('UNKNOWN_BUCKET', `record ${i}: bucket ${JSON.stringify(bucket)} is not mapped`);
    const m = mapping as BucketMapping;
    const key = decodeKey(record.s3.object.key, record.eventSource, config.keyEncoding);
    const sizeBytes = record.s3.object.size ?? 0;
    if (sizeBytes > config.maxObjectBytes)
      reject(
        'OBJECT_TOO_LARGE',
        `record ${i}: object of ${sizeBytes} bytes exceeds ${config.maxObjectBytes}`,
      );
    const where = targetOf(m, key, config.maxKeyBytes);
    if (!where) {
      ignored++;
      continue;
    }
    changes.push({
      repository: m.repository,
      bucket,
      key,
      target: where.target,
      kind: where.kind,
      action,
      etag: (record.s3.object.eTag ?? '').replace(/"/g, ''),
      sizeBytes,
    });
  }
  return { changes, ignored };
}
