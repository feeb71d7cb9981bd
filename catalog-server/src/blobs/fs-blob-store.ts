// Blobs in a local directory: writes go to a temp name and are renamed into place.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type BlobStore, checkKey } from './blob-store.js';
import { LocalStaging } from './staging.js';

export class FsBlobStore implements BlobStore {
  readonly staging: LocalStaging;

  constructor(private readonly root: string) {
    this.staging = new LocalStaging(join(root, 'staging'));
  }

  private path(key: string): string {
    return join(this.root, checkKey(key));
  }

  async init(): Promise<void> {
    for (const dir of ['artifacts', 'torrents', 'tmp'])
      await mkdir(join(this.root, dir), { recursive: true });
    await this.staging.init();
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
    await writeFile(temp, bytes, { flush: true });
    await rename(temp, target);
  }

  async openRead(key: string, range?: { start: number; end: number }): Promise<Readable> {
    return createReadStream(this.path(key), range ? { start: range.start, end: range.end } : {});
  }

  async promoteStaging(id: string, key: string): Promise<void> {
    await rename(this.staging.path(id), this.path(key));
  }
}
