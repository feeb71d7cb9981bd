// Artifact and torrent bytes, keyed 'artifacts/<sha256>' or 'torrents/<infoHash>', behind one
// interface with a local-directory and an S3 implementation. Resumable uploads are staged on local
// disk in both cases; a blob becomes visible under its key only when complete (rename or PUT).
import type { Readable } from 'node:stream';
import type { LocalStaging } from './staging.js';

export const blobKeyPattern = /^(artifacts|torrents)\/[0-9a-f]{40,64}$/;

export class BlobKeyError extends Error {
  readonly code = 'BLOB_KEY_INVALID';
}

export function checkKey(key: string): string {
  if (!blobKeyPattern.test(key)) throw new BlobKeyError(`invalid blob key ${key}`);
  return key;
}

export interface BlobStore {
  readonly staging: LocalStaging;
  init(): Promise<void>;
  /** Size in bytes, or undefined when absent. */
  size(key: string): Promise<number | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Inclusive byte range, as HTTP Range counts. */
  openRead(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Moves a complete, verified staging file under its key. */
  promoteStaging(id: string, key: string): Promise<void>;
}

export { LocalStaging, UploadTooLargeError } from './staging.js';
