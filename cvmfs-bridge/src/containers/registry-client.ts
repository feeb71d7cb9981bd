// OCI distribution API client: bearer-token and Basic auth, manifests by tag or digest with
// every byte checked against its digest, blobs as size-limited streams, tag lists with
// pagination. Every request goes through `request`, which owns timeouts and auth retries.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ContainerConfig } from './config.js';
import { DigestStream, sha256Digest } from './digest-stream.js';
import { ContainerError } from './errors.js';
import { MANIFEST_ACCEPT } from './manifest.js';
import { apiHost, type ImageReference } from './reference.js';

export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly mediaType: string;
  readonly digest: string;
}

interface Challenge {
  readonly scheme: string;
  readonly params: Record<string, string>;
}

function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^(\w+)\s*(.*)$/.exec(header.trim());
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) params[(p[1] ?? '').toLowerCase()] = p[2] ?? '';
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

async function readLimited(body: WebReadableStream<Uint8Array> | null, limit: number, what: string) {
  const chunks: Buffer[] = [];
  let total = 0;
  if (!body) return Buffer.alloc(0);
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) throw new ContainerError('LIMIT_EXCEEDED', `${what} is larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export class RegistryClient {
  private readonly config: ContainerConfig;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(config: ContainerConfig) {
    this.config = config;
  }

  baseUrl(registry: string): string {
    const host = apiHost(registry);
    const bare = host.replace(/:\d+$/, '');
    const insecure = this.config.insecureRegistries.some((h) => h === host || h === bare);
    return `${insecure ? 'http' : 'https'}://${host}`;
  }

  private basicAuth(registry: string): string | undefined {
    const c = this.config.registryCredentials[registry] ?? this.config.registryCredentials[apiHost(registry)];
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  private async token(registry: string, challenge: Challenge, scope: string): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new ContainerError('AUTH_FAILED', `${registry}: bearer challenge without a realm`);
    const key = `${registry} ${scope}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const basic = this.basicAuth(registry);
    let res: Response;
    try {
      res = await fetch(url, {
        headers: basic ? { authorization: basic } : {},
        signal: AbortSignal.timeout(this.config.requestTimeoutSeconds * 1000),
      });
    } catch (error) {
      throw new ContainerError(
        'AUTH_FAILED',
        `${registry}: token service ${url.origin} unreachable: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (!res.ok)
      throw new ContainerError('AUTH_FAILED', `${registry}: token request refused (HTTP ${res.status})`);
    const body = JSON.parse((await readLimited(res.body as never, 1 << 20, 'token response')).toString()) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const token = body.token ?? body.access_token;
    if (!token) throw new ContainerError('AUTH_FAILED', `${registry}: token response carries no token`);
    const lifetime = Math.max(30, body.expires_in ?? 60) - 10;
    this.tokens.set(key, { token, expiresAt: Date.now() + lifetime * 1000 });
    return token;
  }

  /**
   * One API request with auth: an unauthenticated try, then the challenge's scheme. The
   * body timeout is an idle timeout (reset per chunk) so big blobs may take their time.
   */
  private async request(
    ref: ImageReference,
    path: string,
    init: { method?: string; accept?: string } = {},
  ): Promise<Response> {
    const url = `${this.baseUrl(ref.registry)}/v2/${path}`;
    const scope = `repository:${ref.repository}:pull`;
    let authorization: string | undefined;
    const cachedToken = this.tokens.get(`${ref.registry} ${scope}`);
    if (cachedToken && cachedToken.expiresAt > Date.now()) authorization = `Bearer ${cachedToken.token}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.config.requestTimeoutSeconds * 1000);
      let res: Response;
      try {
        res = await fetch(url, {
          method: init.method ?? 'GET',
          headers: {
            ...(init.accept ? { accept: init.accept } : {}),
            ...(authorization ? { authorization } : {}),
          },
          signal: controller.signal,
        });
      } catch (error) {
        throw new ContainerError('REGISTRY_FAILED', `${url}: ${(error as Error).message}`, { cause: error });
      } finally {
        clearTimeout(timer);
      }
      if (res.status !== 401 || attempt > 0) return res;
      await res.body?.cancel();
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      if (challenge?.scheme === 'bearer') {
        authorization = `Bearer ${await this.token(ref.registry, challenge, challenge.params.scope ?? scope)}`;
      } else if (challenge?.scheme === 'basic') {
        authorization = this.basicAuth(ref.registry);
        if (!authorization) throw new ContainerError('AUTH_FAILED', `${url}: registry wants credentials`);
      } else throw new ContainerError('AUTH_FAILED', `${url}: HTTP 401 without a usable challenge`);
    }
    throw new ContainerError('AUTH_FAILED', `${url}: refused after authenticating`);
  }

  private static fail(res: Response, what: string): never {
    if (res.status === 404) throw new ContainerError('NOT_FOUND', `${what}: not found in the registry`);
    if (res.status === 401 || res.status === 403)
      throw new ContainerError('AUTH_FAILED', `${what}: access refused (HTTP ${res.status})`);
    throw new ContainerError('REGISTRY_FAILED', `${what}: HTTP ${res.status}`);
  }

  /** Fetches a manifest by tag or digest; by digest the bytes must hash to it. */
  async manifest(ref: ImageReference, tagOrDigest: string): Promise<FetchedManifest> {
    const what = `manifest ${ref.registry}/${ref.repository}@${tagOrDigest}`;
    const res = await this.request(ref, `${ref.repository}/manifests/${tagOrDigest}`, {
      accept: MANIFEST_ACCEPT,
    });
    if (!res.ok) {
      await res.body?.cancel();
      RegistryClient.fail(res, what);
    }
    const bytes = await readLimited(res.body as never, this.config.maxManifestBytes, what);
    const digest = sha256Digest(bytes);
    if (tagOrDigest.startsWith('sha256:') && digest !== tagOrDigest)
      throw new ContainerError('DIGEST_MISMATCH', `${what} hashes to ${digest}`);
    const header = res.headers.get('docker-content-digest');
    if (header?.startsWith('sha256:') && header !== digest)
      throw new ContainerError(
        'DIGEST_MISMATCH',
        `${what}: body hashes to ${digest}, registry says ${header}`,
      );
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    return { bytes, mediaType, digest };
  }

  /** The digest a tag points to now (HEAD, falling back to GET), or undefined if the tag is gone. */
  async resolveTag(ref: ImageReference, tag: string): Promise<string | undefined> {
    const res = await this.request(ref, `${ref.repository}/manifests/${tag}`, {
      method: 'HEAD',
      accept: MANIFEST_ACCEPT,
    });
    if (res.status === 404) return undefined;
    const header = res.headers.get('docker-content-digest');
    if (res.ok && header?.startsWith('sha256:')) return header;
    try {
      return (await this.manifest(ref, tag)).digest;
    } catch (error) {
      if (error instanceof ContainerError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** A small blob (image config) read whole and checked against its digest. */
  async blobBytes(ref: ImageReference, digest: string, limit: number): Promise<Buffer> {
    const { stream, check } = await this.blob(ref, digest, limit);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    check();
    return Buffer.concat(chunks);
  }

  /**
   * A blob as a stream that hashes while it flows; call `check()` after the stream ended
   * (it throws DIGEST_MISMATCH when the bytes do not match `digest`/`sizeBytes`).
   */
  async blob(
    ref: ImageReference,
    digest: string,
    limit: number,
    sizeBytes?: number,
  ): Promise<{ stream: DigestStream; check: () => void }> {
    const what = `blob ${digest} of ${ref.registry}/${ref.repository}`;
    if (sizeBytes !== undefined && sizeBytes > limit)
      throw new ContainerError('LIMIT_EXCEEDED', `${what} is ${sizeBytes} bytes, the limit is ${limit}`);
    const res = await this.request(ref, `${ref.repository}/blobs/${digest}`);
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      RegistryClient.fail(res, what);
    }
    const hasher = new DigestStream(what, limit);
    const source = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>, { highWaterMark: 1 << 20 });
    source.on('error', (error) =>
      hasher.destroy(new ContainerError('REGISTRY_FAILED', `${what}: ${error.message}`, { cause: error })),
    );
    // Idle timeout while the body streams: no byte for requestTimeoutSeconds fails the blob.
    const idleMs = this.config.requestTimeoutSeconds * 1000;
    const idle = setTimeout(
      () => source.destroy(new Error(`no data for ${this.config.requestTimeoutSeconds} s`)),
      idleMs,
    );
    source.on('data', () => idle.refresh());
    source.once('close', () => clearTimeout(idle));
    source.pipe(hasher);
    return { stream: hasher, check: () => hasher.verify(digest, sizeBytes) };
  }

  /** All tags of a repository (follows `Link: <…>; rel="next"` pagination). */
  async listTags(ref: ImageReference): Promise<string[]> {
    const tags: string[] = [];
    let path = `${ref.repository}/tags/list?n=1000`;
    for (let page = 0; page < 1000; page++) {
      const res = await this.request(ref, path);
      if (!res.ok) {
        await res.body?.cancel();
        RegistryClient.fail(res, `tags of ${ref.registry}/${ref.repository}`);
      }
      const body = JSON.parse(
        (await readLimited(res.body as never, this.config.maxManifestBytes, 'tag list')).toString(),
      ) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const link = res.headers.get('link');
      const next = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
      if (!next) break;
      const u = new URL(next, this.baseUrl(ref.registry));
      path = `${u.pathname.replace(/^\/v2\//, '')}${u.search}`;
    }
    return tags;
  }
}
