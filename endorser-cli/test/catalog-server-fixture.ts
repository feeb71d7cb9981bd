// A small real HTTP server of the test implementing the publishing part of the catalog
// server contract (helpers/catalog-api.md): bearer token, torrents checked by info hash,
// resumable uploads hashed on completion, multipart catalog upload verified with policy.
// It can drop the connection mid-upload once, to prove the client resumes.

import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parseCatalog, reasonsOf, type TrustAnchors, verifyDetached } from '@trustswarm/policy';
import bencode from 'bencode';
import busboy from 'busboy';

export interface FakeServer {
  url: string;
  dir: string;
  requests: Array<{ method: string; path: string; offset?: string }>;
  /** Destroy the connection of the next PATCH after this many body bytes. */
  dropNextPatchAfterBytes: number | undefined;
  close(): Promise<void>;
}

const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { ...(body ? { 'content-type': 'application/json' } : {}), ...headers });
  res.end(body ? JSON.stringify(body) : undefined);
};
const fail = (res: ServerResponse, status: number, code: string, message: string, reasons: unknown[] = []) =>
  send(res, status, { error: { code, message, reasons } });

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req) {
    total += (c as Buffer).length;
    if (total > limit) throw new Error('too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startFakeCatalogServer(
  dir: string,
  token: string,
  anchors: TrustAnchors,
): Promise<FakeServer> {
  for (const d of ['torrents', 'artifacts', 'staging', 'catalogs'])
    mkdirSync(join(dir, d), { recursive: true });
  const state: FakeServer = {
    url: '',
    dir,
    requests: [],
    dropNextPatchAfterBytes: undefined,
    close: async () => {},
  };

  const upload = async (req: IncomingMessage, res: ServerResponse, sha256: string) => {
    const stored = join(dir, 'artifacts', sha256);
    const staging = join(dir, 'staging', sha256);
    const have = existsSync(staging) ? statSync(staging).size : 0;
    if (req.method === 'HEAD') {
      if (existsSync(stored))
        return send(res, 200, undefined, {
          'upload-offset': String(statSync(stored).size),
          'upload-complete': '?1',
        });
      return send(res, 200, undefined, { 'upload-offset': String(have) });
    }
    const offset = Number(req.headers['upload-offset']);
    const total = Number(req.headers['upload-length']);
    if (offset !== have) return fail(res, 409, 'OFFSET_MISMATCH', `server has ${have} bytes`);
    const out = createWriteStream(staging, { flags: 'a' });
    let received = 0;
    const dropAfter = state.dropNextPatchAfterBytes;
    state.dropNextPatchAfterBytes = undefined;
    for await (const c of req) {
      const chunk = c as Buffer;
      if (dropAfter !== undefined && received + chunk.length > dropAfter) {
        const keep = chunk.subarray(0, dropAfter - received);
        await new Promise<void>((r) => out.end(keep, () => r()));
        req.socket.destroy();
        return;
      }
      received += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r) => out.end(() => r()));
    const size = statSync(staging).size;
    if (size < total) return send(res, 204, undefined, { 'upload-offset': String(size) });
    const digest = createHash('sha256').update(readFileSync(staging)).digest('hex');
    if (digest !== sha256) {
      rmSync(staging);
      return fail(res, 422, 'DIGEST_MISMATCH', `bytes hash to ${digest}`);
    }
    renameSync(staging, stored);
    return send(res, 204, undefined, { 'upload-offset': String(size), 'upload-complete': '?1' });
  };

  const postCatalog = async (req: IncomingMessage, res: ServerResponse) => {
    const parts: { catalog?: Buffer; signatures: Buffer[] } = { signatures: [] };
    await new Promise<void>((resolve, reject) => {
      const bb = busboy({ headers: req.headers });
      bb.on('file', (name, stream) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (name === 'catalog') parts.catalog = Buffer.concat(chunks);
          else if (name === 'signature') parts.signatures.push(Buffer.concat(chunks));
        });
      });
      bb.on('close', resolve);
      bb.on('error', reject);
      req.pipe(bb);
    });
    if (!parts.catalog || parts.signatures.length === 0)
      return fail(res, 400, 'BAD_REQUEST', 'catalog and signature parts required');
    const verified: Array<{ name: string; bytes: Buffer }> = [];
    const reasons = parts.signatures.flatMap((s) => {
      try {
        verified.push({
          name: `${verifyDetached(parts.catalog as Buffer, s, anchors).signerCertSha256}.p7s`,
          bytes: s,
        });
        return [];
      } catch (err) {
        return reasonsOf(err);
      }
    });
    if (reasons.length) return fail(res, 422, 'SIGNATURE_INVALID', 'a signature does not verify', reasons);
    const catalog = parseCatalog(parts.catalog);
    const vdir = join(dir, 'catalogs', catalog.id, String(catalog.version));
    const path = join(vdir, 'catalog.yaml');
    const answer = () => ({
      id: catalog.id,
      version: catalog.version,
      signatures: readdirSync(join(vdir, 'signatures')).map((n) => ({
        signerCertSha256: n.replace(/\.p7s$/, ''),
      })),
    });
    if (existsSync(path)) {
      // Idempotent: the stored copy and its signatures stay as they are.
      if (readFileSync(path).equals(parts.catalog)) return send(res, 200, answer());
      return fail(res, 409, 'EQUIVOCATION', `version ${catalog.version} exists with other bytes`);
    }
    mkdirSync(join(vdir, 'signatures'), { recursive: true });
    writeFileSync(path, parts.catalog);
    for (const v of verified) writeFileSync(join(vdir, 'signatures', v.name), v.bytes);
    return send(res, 201, answer());
  };

  const addSignature = async (req: IncomingMessage, res: ServerResponse, id: string, version: string) => {
    const vdir = join(dir, 'catalogs', id, version);
    if (!existsSync(join(vdir, 'catalog.yaml')))
      return fail(res, 404, 'NOT_FOUND', `no catalog ${id} v${version}`);
    const body = await readBody(req, 1024 * 1024);
    try {
      const v = verifyDetached(readFileSync(join(vdir, 'catalog.yaml')), body, anchors);
      writeFileSync(join(vdir, 'signatures', `${v.signerCertSha256}.p7s`), body);
      return send(res, 201, { signerCertSha256: v.signerCertSha256 });
    } catch (err) {
      return fail(res, 422, 'SIGNATURE_INVALID', 'signature does not verify', reasonsOf(err));
    }
  };

  // The static layout, unauthenticated, with signatures/index.json as the real server has.
  const serveStatic = (res: ServerResponse, id: string, version: string, rest: string) => {
    const vdir = join(dir, 'catalogs', id, version);
    if (rest === 'signatures/index.json') {
      if (!existsSync(vdir)) return fail(res, 404, 'NOT_FOUND', rest);
      const names = readdirSync(join(vdir, 'signatures')).map((n) => n.replace(/\.p7s$/, ''));
      return send(res, 200, names);
    }
    const file = join(vdir, rest);
    if (!existsSync(file)) return fail(res, 404, 'NOT_FOUND', rest);
    res.writeHead(200);
    res.end(readFileSync(file));
  };

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    state.requests.push({
      method: req.method ?? '',
      path,
      ...(req.headers['upload-offset'] ? { offset: String(req.headers['upload-offset']) } : {}),
    });
    const staticFile =
      /^\/catalogs\/([0-9a-f-]{36})\/(\d+)\/(catalog\.yaml|signatures\/[0-9a-f]{64}\.p7s|signatures\/index\.json)$/.exec(
        path,
      );
    if (staticFile && req.method === 'GET')
      return serveStatic(res, staticFile[1] as string, staticFile[2] as string, staticFile[3] as string);
    if (req.headers.authorization !== `Bearer ${token}`)
      return fail(res, 401, 'UNAUTHORISED', 'bad or missing token');
    const handle = async () => {
      const torrent = /^\/api\/v1\/torrents\/([0-9a-f]{40})$/.exec(path);
      const up = /^\/api\/v1\/uploads\/([0-9a-f]{64})$/.exec(path);
      if (torrent && req.method === 'PUT') {
        const body = await readBody(req, 10 * 1024 * 1024);
        const info = (bencode.decode(body) as { info: unknown }).info;
        const ih = createHash('sha1').update(bencode.encode(info)).digest('hex');
        if (ih !== torrent[1]) return fail(res, 400, 'INFO_HASH_MISMATCH', `bytes have info hash ${ih}`);
        writeFileSync(join(dir, 'torrents', `${ih}.torrent`), body);
        return send(res, 201, { infoHash: ih });
      }
      if (up && (req.method === 'HEAD' || req.method === 'PATCH')) return upload(req, res, up[1] as string);
      if (path === '/api/v1/catalogs' && req.method === 'POST') return postCatalog(req, res);
      const sig = /^\/api\/v1\/catalogs\/([0-9a-f-]{36})\/versions\/(\d+)\/signatures$/.exec(path);
      if (sig && req.method === 'POST') return addSignature(req, res, sig[1] as string, sig[2] as string);
      return fail(res, 404, 'NOT_FOUND', path);
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) fail(res, 500, 'INTERNAL', String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  state.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  state.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
