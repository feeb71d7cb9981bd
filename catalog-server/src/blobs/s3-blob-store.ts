// Blobs in an S3 bucket (tested against Ceph RGW). Staging stays on local disk; a verified upload
// is sent with a (multipart when large) PUT, so an object appears under its key only when whole.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Config } from '../config.js';
import { type BlobStore, checkKey } from './blob-store.js';
import { LocalStaging } from './staging.js';

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

export class S3BlobStore implements BlobStore {
  readonly staging: LocalStaging;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(blobs: Config['blobs']) {
    this.staging = new LocalStaging(`${blobs.directory}/staging`);
    this.bucket = blobs.s3Bucket;
    this.prefix = blobs.s3Prefix;
    this.client = new S3Client({
      region: blobs.s3Region,
      forcePathStyle: blobs.s3ForcePathStyle,
      // streamed PUTs need this with non-AWS servers (RGW answers 411 otherwise)
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(blobs.s3Endpoint ? { endpoint: blobs.s3Endpoint } : {}),
      ...(blobs.s3AccessKeyId
        ? { credentials: { accessKeyId: blobs.s3AccessKeyId, secretAccessKey: blobs.s3SecretAccessKey } }
        : {}),
    });
  }

  private objectKey(key: string): string {
    return `${this.prefix}${checkKey(key)}`;
  }

  async init(): Promise<void> {
    await this.staging.init();
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return head.ContentLength;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: bytes }),
    );
  }

  async openRead(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const response = await this.client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
      }),
    );
    return response.Body as Readable;
  }

  async promoteStaging(id: string, key: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.objectKey(key),
        Body: createReadStream(this.staging.path(id)),
      },
      partSize: 16 * 1024 * 1024,
      queueSize: 2,
    });
    await upload.done();
    await this.staging.delete(id);
  }
}
