// Resumable, streaming artifact upload (the tus-like part of the catalog API): ask the
// server how much it has, send the rest from that offset, and on a dropped connection or
// an offset conflict ask again and continue. Memory stays constant whatever the size.

import { createReadStream } from 'node:fs';
import { CliError } from './errors.js';
import type { ServerClient } from './server-client.js';

export interface UploadResult {
  sha256: string;
  sentBytes: number;
  alreadyStored: boolean;
  attempts: number;
}

async function serverOffset(
  client: ServerClient,
  sha256: string,
): Promise<{ offset: number; complete: boolean }> {
  const res = await client.send('HEAD', `/uploads/${sha256}`);
  if (res.status === 404) return { offset: 0, complete: false };
  await client.expectOk(res, `HEAD upload ${sha256}`);
  const offset = Number(res.headers.get('upload-offset') ?? '0');
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new CliError('SERVER_REJECTED', `HEAD upload ${sha256}: bad Upload-Offset`);
  return { offset, complete: res.headers.get('upload-complete') === '?1' };
}

async function* fileChunks(
  path: string,
  start: number,
  onBytes: (n: number) => void,
): AsyncGenerator<Buffer> {
  for await (const chunk of createReadStream(path, { start, highWaterMark: 1024 * 1024 })) {
    onBytes((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

export async function uploadArtifact(
  client: ServerClient,
  file: { path: string; sha256: string; sizeBytes: number },
  options: { retries: number; onProgress?: (doneBytes: number) => void },
): Promise<UploadResult> {
  let sentBytes = 0;
  for (let attempt = 1; ; attempt++) {
    const { offset, complete } = await serverOffset(client, file.sha256);
    if (complete) return { sha256: file.sha256, sentBytes, alreadyStored: attempt === 1, attempts: attempt };
    if (offset > file.sizeBytes)
      throw new CliError(
        'SERVER_REJECTED',
        `upload ${file.sha256}: server holds more bytes than the file has`,
      );
    let done = offset;
    options.onProgress?.(done);
    try {
      const res = await client.send('PATCH', `/uploads/${file.sha256}`, {
        streaming: true,
        headers: {
          'upload-offset': String(offset),
          'upload-length': String(file.sizeBytes),
          'content-type': 'application/offset+octet-stream',
          'content-length': String(file.sizeBytes - offset),
        },
        body: fileChunks(file.path, offset, (n) => {
          done += n;
          sentBytes += n;
          options.onProgress?.(done);
        }) as unknown as RequestInit['body'],
      });
      if (res.status === 409 && attempt <= options.retries) {
        await res.body?.cancel();
        continue; // the server's offset moved: ask again
      }
      await client.expectOk(res, `upload ${file.sha256}`);
      await res.body?.cancel();
      if (res.headers.get('upload-complete') === '?1' || done === file.sizeBytes)
        return { sha256: file.sha256, sentBytes, alreadyStored: false, attempts: attempt };
    } catch (err) {
      const retriable = err instanceof CliError && err.code === 'SERVER_UNREACHABLE';
      if (!retriable || attempt > options.retries) throw err;
    }
  }
}
