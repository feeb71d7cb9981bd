// Serves the web UI under /ui: a fixed set of files (HTML and CSS from ui/static, browser
// modules compiled from ui/src into dist/ui-assets) read once at start, with a strict CSP.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { errorBody } from '../errors.js';
import '../http/types.js';

/** The package root: this file is src/ui/plugin.ts (tests) or dist/ui/plugin.js (installed). */
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface UiOptions {
  staticDir?: string;
  scriptsDir?: string;
}

export class UiAssetsMissingError extends Error {
  readonly code = 'UI_ASSETS_MISSING';
}

interface Asset {
  bytes: Buffer;
  type: string;
  etag: string;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// The session token sits in sessionStorage, so script injection is the threat that matters:
// only our own scripts run, nothing inline, no framing, no other origins (but the OIDC issuer,
// whose discovery document the sign-in page reads).
function contentSecurityPolicy(oidcIssuer: string): string {
  const issuerOrigin = oidcIssuer ? ` ${new URL(oidcIssuer).origin}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${issuerOrigin}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && types[extname(d.name)] !== undefined)
    .map((d) => join(d.parentPath, d.name));
}

function loadAssets(staticDir: string, scriptsDir: string): Map<string, Asset> {
  if (!existsSync(join(scriptsDir, 'main.js')))
    throw new UiAssetsMissingError(`web UI scripts missing in ${scriptsDir}: build the package (tsc -b)`);
  const assets = new Map<string, Asset>();
  const add = (urlPath: string, file: string) => {
    const bytes = readFileSync(file);
    const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
    assets.set(urlPath, { bytes, type: types[extname(file)] ?? 'application/octet-stream', etag });
  };
  for (const file of listFiles(staticDir)) add(relative(staticDir, file).split('\\').join('/'), file);
  for (const file of listFiles(scriptsDir))
    add(`js/${relative(scriptsDir, file).split('\\').join('/')}`, file);
  return assets;
}

function send(reply: FastifyReply, asset: Asset, ifNoneMatch: string | undefined, csp: string) {
  reply
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag);
  if (ifNoneMatch === asset.etag) return reply.status(304).send();
  return reply.type(asset.type).send(asset.bytes);
}

export function uiPlugin(options: UiOptions = {}): FastifyPluginAsync {
  const staticDir = options.staticDir ?? join(packageRoot, 'ui', 'static');
  const scriptsDir = options.scriptsDir ?? join(packageRoot, 'dist', 'ui-assets');
  return async (app: FastifyInstance) => {
    const assets = loadAssets(staticDir, scriptsDir);
    const csp = contentSecurityPolicy(app.services.config.auth.oidcIssuer);
    const index = assets.get('index.html');
    if (!index) throw new UiAssetsMissingError(`index.html missing in ${staticDir}`);
    app.get('/', { schema: { hide: true } }, async (request, reply) =>
      send(reply, index, request.headers['if-none-match'], csp),
    );
    app.get<{ Params: { '*': string } }>('/*', { schema: { hide: true } }, async (request, reply) => {
      const asset = assets.get(request.params['*']);
      if (!asset) return reply.status(404).send(errorBody('NOT_FOUND', `no UI file ${request.params['*']}`));
      return send(reply, asset, request.headers['if-none-match'], csp);
    });
  };
}
