// Where a reader gets repository files from: a local directory or an HTTP base URL (a
// Stratum 0/1 or any static server). Every fetch is size-limited and times out.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BridgeError } from '../errors.js';

export interface Fetcher {
  /** Whole small file (manifest, whitelist, certificate, catalogs). */
  get(relPath: string, maxBytes: number): Promise<Buffer>;
  /** Streamed content of a possibly large object. */
  open(relPath: string): Promise<Readable>;
  readonly description: string;
}

export class LocalFetcher implements Fetcher {
  readonly description: string;
  constructor(private readonly dir: string) {
    this.description = dir;
  }

  async get(relPath: string, maxBytes: number): Promise<Buffer> {
    const file = join(this.dir, relPath);
    try {
      const info = await stat(file);
      if (info.size > maxBytes)
        throw new BridgeError('FETCH_FAILED', `${relPath} is larger than ${maxBytes} bytes`);
      return await readFile(file);
    } catch (error) {
      if (error instanceof BridgeError) throw error;
      throw new BridgeError(
        'FETCH_FAILED',
        `cannot read ${relPath} from ${this.dir}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  }

  async open(relPath: string): Promise<Readable> {
    const file = join(this.dir, relPath);
    try {
      await stat(file);
    } catch {
      throw new BridgeError('FETCH_FAILED', `cannot read ${relPath} from ${this.dir}`);
    }
    return createReadStream(file, { highWaterMark: 1 << 20 });
  }
}

export class HttpFetcher implements Fetcher {
  readonly description: string;
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.description = baseUrl;
  }

  private async request(relPath: string): Promise<Response> {
    const url = `${this.baseUrl.replace(/\/$/, '')}/${relPath}`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw new BridgeError('FETCH_FAILED', `GET ${url} failed: ${(error as Error).message}`);
    }
    if (!response.ok || !response.body)
      throw new BridgeError('FETCH_FAILED', `GET ${url} returned HTTP ${response.status}`);
    return response;
  }

  async get(relPath: string, maxBytes: number): Promise<Buffer> {
    const response = await this.request(relPath);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)) {
      total += (chunk as Buffer).length;
      if (total > maxBytes)
        throw new BridgeError('FETCH_FAILED', `${relPath} is larger than ${maxBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async open(relPath: string): Promise<Readable> {
    const response = await this.request(relPath);
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }
}
