// Artifact and torrent bytes, keyed 'artifacts/<sha256>' or 'torrents/<infoHash>'. Writers go
// through a staging name and one atomic rename, so a partial file is never visible under its key.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const keyPattern = /^(artifacts|torrents)\/[0-9a-f]{40,64}$/;
const stagingPattern = /^[0-9a-f]{64}$/;

export class BlobKeyError extends Error {
  readonly code = 'BLOB_KEY_INVALID';
}

export class FsBlobStore {
  constructor(private readonly root: string) {}

  private path(key: string): string {
    if (!keyPattern.test(key)) throw new BlobKeyError(`invalid blob key ${key}`);
    return join(this.root, key);
  }

  private stagingPath(id: string): string {
    if (!stagingPattern.test(id)) throw new BlobKeyError(`invalid staging id ${id}`);
    return join(this.root, 'staging', id);
  }

  async init(): Promise<void> {
    for (const dir of ['artifacts', 'torrents', 'staging', 'tmp'])
      await mkdir(join(this.root, dir), { recursive: true });
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const target = this.path(key);
    const temp = join(this.root, 'tmp', randomUUID());
    await mkdir(dirname(target), { recursive: true });
    await writeFile(temp, bytes, { flush: true });
    await rename(temp, target);
  }

  /** Inclusive byte range, as HTTP Range counts. */
  read(key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.path(key), range ? { start: range.start, end: range.end } : {});
  }

  async stagingSize(id: string): Promise<number> {
    try {
      return (await stat(this.stagingPath(id))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  /** Appends the stream to the staging file; stops with an error beyond maxBytes. Returns the new size. */
  async appendStaging(id: string, body: Readable, maxTotalBytes: number): Promise<number> {
    const path = this.stagingPath(id);
    let total = await this.stagingSize(id);
    const guard = async function* (source: Readable) {
      for await (const chunk of source) {
        total += (chunk as Buffer).length;
        if (total > maxTotalBytes) throw new UploadTooLargeError(`upload exceeds ${maxTotalBytes} bytes`);
        yield chunk as Buffer;
      }
    };
    await pipeline(body, guard, createWriteStream(path, { flags: 'a' }));
    return this.stagingSize(id);
  }

  async hashStaging(id: string): Promise<string> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(this.stagingPath(id)), hash);
    return hash.digest('hex');
  }

  async promoteStaging(id: string, key: string): Promise<void> {
    await rename(this.stagingPath(id), this.path(key));
  }

  async deleteStaging(id: string): Promise<void> {
    await rm(this.stagingPath(id), { force: true });
  }
}

export class UploadTooLargeError extends Error {
  readonly code = 'UPLOAD_TOO_LARGE';
}
