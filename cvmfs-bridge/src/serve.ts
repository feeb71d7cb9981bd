// A static HTTP server for trying repositories out: serves storageDir at /cvmfs/<fqrn>/…,
// manifest and whitelist with a short cache lifetime, objects as immutable. Production sites
// put nginx/Apache (and Squid) in front instead; see the README.
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';

export interface ServeOptions {
  readonly storageDir: string;
  readonly host: string;
  readonly port: number;
  readonly logger?: boolean;
}

export async function startServer(options: ServeOptions): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: options.logger ?? false });
  await app.register(fastifyStatic, {
    root: options.storageDir,
    prefix: '/cvmfs/',
    dotfiles: 'allow',
    list: false,
    index: false,
    cacheControl: false,
    setHeaders(res, path) {
      const mutable = /\/\.cvmfs(published|whitelist)$/.test(path);
      res.setHeader('Cache-Control', mutable ? 'max-age=61' : 'public, max-age=259200, immutable');
      res.setHeader('Content-Type', 'application/octet-stream');
    },
  });
  const url = await app.listen({ host: options.host, port: options.port });
  return { app, url };
}
