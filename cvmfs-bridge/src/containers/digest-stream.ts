// A pass-through that hashes (sha256) and counts bytes as they flow and enforces a size
// limit, so a blob's digest and size are checked while it streams, never after buffering.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ContainerError } from './errors.js';

export class DigestStream extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private readonly limitBytes: number;
  private readonly what: string;
  private result: string | undefined;

  constructor(what: string, limitBytes: number) {
    super({ highWaterMark: 1 << 20 });
    this.what = what;
    this.limitBytes = limitBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limitBytes) {
      cb(new ContainerError('LIMIT_EXCEEDED', `${this.what} is larger than ${this.limitBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = `sha256:${this.hash.digest('hex')}`;
    cb();
  }

  /** The digest of everything that passed; only valid after the stream ended. */
  get digest(): string {
    if (this.result === undefined) throw new ContainerError('DIGEST_MISMATCH', `${this.what} ended early`);
    return this.result;
  }

  /** Throws DIGEST_MISMATCH unless the bytes seen hash to `expected` (and have its size). */
  verify(expected: string, expectedBytes?: number): void {
    if (expectedBytes !== undefined && this.bytes !== expectedBytes)
      throw new ContainerError(
        'DIGEST_MISMATCH',
        `${this.what} has ${this.bytes} bytes, its descriptor says ${expectedBytes}`,
      );
    if (this.digest !== expected)
      throw new ContainerError(
        'DIGEST_MISMATCH',
        `${this.what} hashes to ${this.digest}, expected ${expected}`,
      );
  }
}

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
