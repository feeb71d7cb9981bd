// The bridge's S3 door: a client configured for RGW/MinIO/AWS, a streaming download into a
// staging file with a size limit, and a full ListObjectsV2 walk for reconciliation.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3FlowConfig } from '../config.js';
import { errorMessage, FlowError } from '../errors.js';

export function makeS3Client(config: S3FlowConfig): S3Client {
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    // RGW (and MinIO) need these, or a streamed PutObject fails with 411 MissingContentLength.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export interface Downloaded {
  readonly etag: string;
  readonly sizeBytes: number;
  /** The bytes, when the object was small enough to keep in memory; otherwise they are in the file. */
  readonly bytes?: Buffer;
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/**
 * Streams the object's current bytes into memory (when `inline(size)` allows: small objects
 * skip the disk) or into `file`; undefined when the object does not exist.
 */
export async function downloadObject(
  client: S3Client,
  bucket: string,
  key: string,
  opts: { file: string; maxBytes: number; inline: (sizeBytes: number) => boolean },
): Promise<Downloaded | undefined> {
  let response: GetObjectCommandOutput;
  try {
    response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new FlowError('S3_FAILED', `GET ${bucket}/${key}: ${errorMessage(error)}`, { cause: error });
  }
  const declared = response.ContentLength ?? 0;
  const body = (response.Body as Readable | undefined) ?? Readable.from([]);
  const etag = (response.ETag ?? '').replace(/"/g, '');
  if (declared > opts.maxBytes) {
    body.destroy();
    throw new FlowError('OBJECT_TOO_LARGE', `${bucket}/${key}: ${declared} bytes exceeds ${opts.maxBytes}`);
  }
  let sizeBytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sizeBytes += chunk.length;
      if (sizeBytes > opts.maxBytes)
        done(new FlowError('OBJECT_TOO_LARGE', `${bucket}/${key}: more than ${opts.maxBytes} bytes`));
      else done(null, chunk);
    },
  });
  try {
    if (response.ContentLength !== undefined && opts.inline(declared)) {
      const chunks: Buffer[] = [];
      await pipeline(body, limit, async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) chunks.push(chunk);
      });
      return { etag, sizeBytes, bytes: Buffer.concat(chunks) };
    }
    await pipeline(body, limit, createWriteStream(opts.file, { flags: 'w', mode: 0o600 }));
  } catch (error) {
    await rm(opts.file, { force: true });
    if (error instanceof FlowError) throw error;
    throw new FlowError('S3_FAILED', `GET ${bucket}/${key}: ${errorMessage(error)}`, { cause: error });
  }
  return { etag, sizeBytes };
}

export interface ListedObject {
  readonly key: string;
  readonly etag: string;
  readonly sizeBytes: number;
}

export async function listAll(client: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }),
      );
    } catch (error) {
      throw new FlowError('S3_FAILED', `list ${bucket}/${prefix}: ${errorMessage(error)}`, { cause: error });
    }
    for (const o of page.Contents ?? []) {
      if (o.Key !== undefined)
        out.push({ key: o.Key, etag: (o.ETag ?? '').replace(/"/g, ''), sizeBytes: o.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}
