// The bridge's S3 door: signed GETs streamed into memory or a staging file with a size limit,
// and (through the SDK client, configured for RGW/MinIO/AWS) a full ListObjectsV2 walk for
// reconciliation. Both trust what `s3.caFile` says (see tls.ts).
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import type { S3FlowConfig } from '../config.js';
import { errorMessage, FlowError } from '../errors.js';
import { certificateProblem, loadS3Tls, type S3Tls } from './tls.js';

/** The SDK client, for the few ListObjectsV2 calls of reconciliation. */
export function makeS3Client(config: S3FlowConfig, tls: S3Tls = loadS3Tls(config)): S3Client {
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    // RGW (and MinIO) need these, or a streamed PutObject fails with 411 MissingContentLength.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK builds its NodeHttpHandler from these options (no handler package of our own).
    ...(tls.ca
      ? { requestHandler: { httpsAgent: new HttpsAgent({ keepAlive: true, ca: [...tls.ca] }) } }
      : {}),
  });
}

/** SHA-256 of the empty body: a GET's payload hash. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** A connection silent this long (before or during the response) fails the GET. */
const IDLE_TIMEOUT_MS = 60_000;
/** Attempts of one GET on a network error, 429 or 5xx (as the SDK's standard retry mode). */
const GET_ATTEMPTS = 3;

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (d: SourceData) =>
  typeof d === 'string'
    ? d
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);

/** node:crypto behind the hash interface the signer takes. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

/** RFC 3986 encoding of one key segment, as S3 expects it in a path. */
const encodeSegment = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Signed GetObject requests on keep-alive connections, without the SDK's per-request
 * middleware: for small objects the SDK spent ≈ 0.8–1 ms of CPU per GET against ≈ 0.25 ms
 * here, and on a busy host that CPU is the bridge's download rate. Signing is the SDK's own
 * SigV4 signer (@smithy/signature-v4).
 */
export class ObjectGetter {
  private readonly signer: SignatureV4;
  private readonly endpoint: URL;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  private readonly tls: S3Tls;

  constructor(config: S3FlowConfig, tls: S3Tls = loadS3Tls(config)) {
    this.tls = tls;
    this.endpoint = new URL(config.endpoint);
    const https = this.endpoint.protocol === 'https:';
    if (!https && this.endpoint.protocol !== 'http:')
      throw new FlowError('CONFIG_INVALID', `s3.endpoint must be http(s)://, got ${config.endpoint}`);
    // One connection per parallel GET; the pool never queues a download behind another.
    const agentOptions = { keepAlive: true, maxSockets: config.downloadConcurrency };
    this.agent = https
      ? new HttpsAgent({ ...agentOptions, ...(tls.ca ? { ca: [...tls.ca] } : {}) })
      : new HttpAgent(agentOptions);
    this.request = https ? httpsRequest : httpRequest;
    this.signer = new SignatureV4({
      service: 's3',
      region: config.region,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      sha256: Sha256,
      uriEscapePath: false, // S3 signs the path as sent (already encoded)
      applyChecksum: false,
    });
    this.forcePathStyle = config.forcePathStyle;
  }

  private readonly forcePathStyle: boolean;

  /** The object's response (status 200), or undefined when it does not exist (404). */
  async get(bucket: string, key: string): Promise<IncomingMessage | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(bucket, key);
      } catch (error) {
        const status = error instanceof HttpStatusError ? error.status : 0;
        // A refused certificate is refused again: no retry, and a message that says so.
        const problem = certificateProblem(error, this.tls);
        if (problem) throw new Error(problem, { cause: error });
        const transient = status === 0 || status === 429 || status >= 500;
        if (!transient || attempt >= GET_ATTEMPTS) throw error;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private async once(bucket: string, key: string): Promise<IncomingMessage | undefined> {
    const base = this.endpoint.pathname.replace(/\/+$/, '');
    const encodedKey = key.split('/').map(encodeSegment).join('/');
    const hostname = this.forcePathStyle ? this.endpoint.hostname : `${bucket}.${this.endpoint.hostname}`;
    const path = this.forcePathStyle
      ? `${base}/${encodeSegment(bucket)}/${encodedKey}`
      : `${base}/${encodedKey}`;
    const host = this.endpoint.port ? `${hostname}:${this.endpoint.port}` : hostname;
    const signed = await this.signer.sign({
      method: 'GET',
      protocol: this.endpoint.protocol,
      hostname,
      port: this.endpoint.port ? Number(this.endpoint.port) : undefined,
      path,
      query: {},
      headers: { host, 'x-amz-content-sha256': EMPTY_SHA256 },
    });
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.request({
        agent: this.agent,
        hostname: this.endpoint.hostname,
        port: this.endpoint.port || undefined,
        path,
        method: 'GET',
        headers: signed.headers,
        timeout: IDLE_TIMEOUT_MS,
      });
      req.on('response', resolve);
      req.on('timeout', () => req.destroy(new Error(`connection idle for ${IDLE_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end();
    });
    const status = response.statusCode ?? 0;
    // The request's idle timeout also covers the body: the socket stays the request's until the
    // response is consumed (then the keep-alive pool takes it back, listener removed).
    if (status === 200) return response;
    const detail = await errorDetail(response);
    if (status === 404) return undefined; // NoSuchKey (or the bucket is gone): nothing to publish
    throw new HttpStatusError(status, `HTTP ${status}${detail ? ` ${detail}` : ''}`);
  }
}

/** The S3 error code and message of an error response (its first 4 KiB). */
async function errorDetail(response: IncomingMessage): Promise<string> {
  let text = '';
  try {
    for await (const chunk of response) {
      if (text.length < 4096) text += String(chunk);
    }
  } catch {
    return '';
  }
  const tag = (name: string) => new RegExp(`<${name}>([^<]{0,300})</${name}>`).exec(text)?.[1];
  return [tag('Code'), tag('Message')].filter(Boolean).join(': ');
}

export interface Downloaded {
  readonly etag: string;
  readonly sizeBytes: number;
  /** The bytes, when the object was small enough to keep in memory; otherwise they are in the file. */
  readonly bytes?: Buffer;
}

/**
 * Streams the object's current bytes into memory (when `inline(size)` allows: small objects
 * skip the disk) or into `file`; undefined when the object does not exist.
 */
export async function downloadObject(
  getter: ObjectGetter,
  bucket: string,
  key: string,
  opts: { file: string; maxBytes: number; inline: (sizeBytes: number) => boolean },
): Promise<Downloaded | undefined> {
  let body: IncomingMessage | undefined;
  try {
    body = await getter.get(bucket, key);
  } catch (error) {
    throw new FlowError('S3_FAILED', `GET ${bucket}/${key}: ${errorMessage(error)}`, { cause: error });
  }
  if (!body) return undefined;
  const lengthHeader = body.headers['content-length'];
  const declared = lengthHeader === undefined ? undefined : Number(lengthHeader);
  const etag = String(body.headers.etag ?? '').replace(/"/g, '');
  if (declared !== undefined && declared > opts.maxBytes) {
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
    if (declared !== undefined && Number.isSafeInteger(declared) && opts.inline(declared)) {
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

/** Every object under `prefix`; `tls` (the client's settings) explains a refused certificate. */
export async function listAll(
  client: S3Client,
  bucket: string,
  prefix: string,
  tls?: S3Tls,
): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }),
      );
    } catch (error) {
      const problem = tls && certificateProblem(error, tls);
      throw new FlowError('S3_FAILED', `list ${bucket}/${prefix}: ${problem ?? errorMessage(error)}`, {
        cause: error,
      });
    }
    for (const o of page.Contents ?? []) {
      if (o.Key !== undefined)
        out.push({ key: o.Key, etag: (o.ETag ?? '').replace(/"/g, ''), sizeBytes: o.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}
