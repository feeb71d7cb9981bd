// Reconciliation: compares a mapped bucket's listing (ListObjectsV2) with what the state
// database says is published and returns the changes that would bring the repository in
// line: objects new or changed since (by ETag), and published objects no longer listed.
import type { S3Client } from '@aws-sdk/client-s3';
import type { BucketMapping } from '../config.js';
import { errorMessage } from '../errors.js';
import type { FlowState } from '../state.js';
import { listAll } from './client.js';
import { type ObjectChange, targetOf } from './events.js';
import type { S3Tls } from './tls.js';

export async function bucketDrift(
  s3: S3Client,
  mapping: BucketMapping,
  state: FlowState,
  maxKeyBytes: number,
  warn: (message: string) => void,
  tls?: S3Tls,
): Promise<ObjectChange[]> {
  const listed = await listAll(s3, mapping.bucket, mapping.prefix, tls);
  const known = new Map(state.s3Objects(mapping.bucket).map((r) => [r.key, r]));
  const seen = new Set<string>();
  const changes: ObjectChange[] = [];
  const base = (key: string) => ({ repository: mapping.repository, bucket: mapping.bucket, key });
  for (const object of listed) {
    seen.add(object.key);
    let where: ReturnType<typeof targetOf>;
    try {
      where = targetOf(mapping, object.key, maxKeyBytes);
    } catch (error) {
      warn(`reconcile: skipped ${JSON.stringify(object.key.slice(0, 200))}: ${errorMessage(error)}`);
      continue;
    }
    if (!where) continue;
    const row = known.get(object.key);
    if (row && row.etag === object.etag && (row.kind === where.kind || row.kind === 'rejected')) continue;
    changes.push({
      ...base(object.key),
      ...where,
      action: 'put',
      etag: object.etag,
      sizeBytes: object.sizeBytes,
    });
  }
  for (const row of known.values()) {
    if (seen.has(row.key)) continue;
    const where = targetOf(mapping, row.key, maxKeyBytes);
    if (where) changes.push({ ...base(row.key), ...where, action: 'remove', etag: '', sizeBytes: 0 });
  }
  return changes;
}
