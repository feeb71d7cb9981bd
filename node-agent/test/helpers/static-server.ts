// A plain static server of the distribution layout, as any mirror would be: files from a
// directory, strong ETags with If-None-Match → 304, and byte ranges (for the BEP 19 web
// seed). It logs every request so tests can see what agents asked for.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';

export interface StaticServer {
  baseUrl: string;
  requests: { path: string; status: number }[];
  /** Paths answered with 503 while set (a server that is down for them). */
  down: boolean;
  close(): Promise<void>;
}

export async function startStaticServer(root: string): Promise<StaticServer> {
  const state: StaticServer = { baseUrl: '', requests: [], down: false, close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const send = (status: number, body?: Buffer, headers: Record<string, string> = {}) => {
      state.requests.push({ path, status });
      res.writeHead(status, headers);
      res.end(body);
    };
    if (state.down) return send(503);
    const file = normalize(join(root, path));
    if (!file.startsWith(root)) return send(403);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      return send(404);
    }
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
    if (req.headers['if-none-match'] === etag) return send(304, undefined, { etag });
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      return send(206, body.subarray(start, end + 1), {
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': String(end - start + 1),
        etag,
      });
    }
    send(200, body, { etag, 'content-length': String(body.length), 'accept-ranges': 'bytes' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('static server did not bind');
  state.baseUrl = `http://127.0.0.1:${address.port}/`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
