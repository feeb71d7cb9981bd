// A man-in-the-middle in front of the real registry for the digest tests: forwards every
// request, and for paths matching `tamper` flips one byte of the response body.
import { createServer, request, type Server } from 'node:http';

export interface TamperProxy {
  readonly host: string;
  tamper: RegExp | undefined;
  /** Paths whose response sends headers and half the body, then nothing more. */
  stall: RegExp | undefined;
  close(): Promise<void>;
}

export async function startTamperProxy(upstreamHost: string): Promise<TamperProxy> {
  const [upHost, upPort] = upstreamHost.split(':');
  const state: { tamper: RegExp | undefined; stall: RegExp | undefined } = {
    tamper: undefined,
    stall: undefined,
  };
  const server: Server = createServer((req, res) => {
    const up = request(
      {
        host: upHost,
        port: Number(upPort),
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: upstreamHost },
      },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          let body = Buffer.concat(chunks);
          if (state.tamper?.test(req.url ?? '') && body.length > 0) {
            body = Buffer.from(body);
            const i = Math.floor(body.length / 2);
            body[i] = (body[i] as number) ^ 0x01;
          }
          const headers = { ...upRes.headers };
          res.writeHead(upRes.statusCode ?? 502, headers);
          if (state.stall?.test(req.url ?? '')) res.write(body.subarray(0, Math.floor(body.length / 2)));
          else res.end(body);
        });
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    get tamper() {
      return state.tamper;
    },
    set tamper(re: RegExp | undefined) {
      state.tamper = re;
    },
    get stall() {
      return state.stall;
    },
    set stall(re: RegExp | undefined) {
      state.stall = re;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
