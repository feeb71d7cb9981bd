// The agent's only way to the catalog server: plain HTTP GETs of the static layout
// (DESIGN.md), so any mirror, S3 bucket or Squid can serve it. Every fetch has a size
// limit and a timeout; the approval is polled with If-None-Match.

import { createHash } from 'node:crypto';
import { errorMessage, FetchError } from './errors.js';

export interface LayoutClientConfig {
  baseUrl: string;
  timeoutSeconds: number;
  maxApprovalBytes: number;
  maxCatalogBytes: number;
  maxSignatureBytes: number;
  maxTorrentBytes: number;
}

export type Fetched = { status: 'ok'; bytes: Buffer; etag: string | undefined } | { status: 'not-modified' };

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readLimited(response: Response, url: string, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    throw new FetchError('FETCH_TOO_LARGE', `${url}: ${declared} bytes exceeds the limit of ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (!response.body) return Buffer.alloc(0);
  for await (const chunk of response.body) {
    total += chunk.length;
    if (total > maxBytes) {
      throw new FetchError('FETCH_TOO_LARGE', `${url}: body exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export class LayoutClient {
  constructor(private readonly config: LayoutClientConfig) {}

  url(path: string): string {
    return new URL(path.replace(/^\/+/, ''), this.config.baseUrl.replace(/\/*$/, '/')).toString();
  }

  async get(path: string, maxBytes: number, etag?: string): Promise<Fetched> {
    const url = this.url(path);
    const signal = AbortSignal.timeout(this.config.timeoutSeconds * 1000);
    let response: Response;
    try {
      response = await fetch(url, {
        signal,
        headers: etag ? { 'if-none-match': etag } : {},
        redirect: 'follow',
      });
      if (response.status === 304) return { status: 'not-modified' };
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new FetchError('FETCH_FAILED', `${url}: HTTP ${response.status}`);
      }
      const bytes = await readLimited(response, url, maxBytes);
      return { status: 'ok', bytes, etag: response.headers.get('etag') ?? undefined };
    } catch (err) {
      if (err instanceof FetchError) throw err;
      if (signal.aborted) {
        throw new FetchError('FETCH_TIMEOUT', `${url}: no answer within ${this.config.timeoutSeconds} s`);
      }
      throw new FetchError('FETCH_FAILED', `${url}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async getBytes(path: string, maxBytes: number): Promise<Buffer> {
    const result = await this.get(path, maxBytes);
    if (result.status !== 'ok') throw new FetchError('FETCH_FAILED', `${this.url(path)}: unexpected 304`);
    return result.bytes;
  }

  /** Fetches a file whose sha256 is already known from a signed document, and checks it. */
  async getPinned(path: string, maxBytes: number, expectedSha256: string): Promise<Buffer> {
    const bytes = await this.getBytes(path, maxBytes);
    const actual = sha256Hex(bytes);
    if (actual !== expectedSha256.toLowerCase()) {
      throw new FetchError(
        'HASH_MISMATCH',
        `${this.url(path)}: sha256 ${actual} differs from signed ${expectedSha256}`,
      );
    }
    return bytes;
  }

  approvalPaths(site: string): { doc: string; sig: string } {
    const s = encodeURIComponent(site);
    return { doc: `sites/${s}/approval.yaml`, sig: `sites/${s}/approval.yaml.p7s` };
  }

  catalogPath(id: string, version: number): string {
    return `catalogs/${encodeURIComponent(id)}/${version}/catalog.yaml`;
  }

  torrentPath(infoHash: string): string {
    return `torrents/${encodeURIComponent(infoHash)}.torrent`;
  }

  get limits(): LayoutClientConfig {
    return this.config;
  }
}
