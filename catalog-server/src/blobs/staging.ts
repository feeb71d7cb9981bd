// Local staging of resumable uploads: append from an offset, hash the whole file, delete on mismatch.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const stagingPattern = /^[0-9a-f]{64}$/;

export class UploadTooLargeError extends Error {
  readonly code = 'UPLOAD_TOO_LARGE';
}

export class LocalStaging {
  constructor(readonly directory: string) {}

  async init(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
  }

  path(id: string): string {
    if (!stagingPattern.test(id)) throw new Error(`invalid staging id ${id}`);
    return join(this.directory, id);
  }

  async size(id: string): Promise<number> {
    try {
      return (await stat(this.path(id))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  /** Appends the stream; fails (keeping what was written before) beyond maxTotalBytes. Returns the new size. */
  async append(id: string, body: Readable, maxTotalBytes: number): Promise<number> {
    let total = await this.size(id);
    const guard = async function* (source: Readable) {
      for await (const chunk of source) {
        total += (chunk as Buffer).length;
        if (total > maxTotalBytes) throw new UploadTooLargeError(`upload exceeds ${maxTotalBytes} bytes`);
        yield chunk as Buffer;
      }
    };
    await pipeline(body, guard, createWriteStream(this.path(id), { flags: 'a' }));
    return this.size(id);
  }

  async sha256(id: string): Promise<string> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(this.path(id)), hash);
    return hash.digest('hex');
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }
}
