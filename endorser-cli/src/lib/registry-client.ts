// Resolves an image reference to its manifest digest with the OCI distribution API:
// anonymous first, then the bearer-token dance a 401 asks for (or basic credentials).
// The digest is computed from the bytes received, never taken on the registry's word.

import { createHash } from 'node:crypto';
import { CliError, messageOf } from './errors.js';
import type { ImageReference } from './oci-reference.js';

export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

export interface RegistryOptions {
  insecure: boolean;
  timeoutSeconds: number;
  maxManifestBytes: number;
  username?: string | undefined;
  password?: string | undefined;
}

export interface ResolvedManifest {
  digest: string;
  mediaType: string;
  sizeBytes: number;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string): Challenge {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/(\w+)="([^"]*)"/g))
    params[m[1] as string] = m[2] as string;
  return { scheme, params };
}

async function request(
  url: string,
  init: RequestInit,
  opts: RegistryOptions,
  what: string,
): Promise<Response> {
  try {
    return await fetch(url, {
      ...init,
      redirect: 'follow',
      signal: AbortSignal.timeout(opts.timeoutSeconds * 1000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? messageOf(err);
    throw new CliError('REGISTRY_UNREACHABLE', `${what}: cannot reach ${new URL(url).host} (${cause})`);
  }
}

async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > limit)
    throw new CliError('REGISTRY_REJECTED', `${what}: manifest of ${declared} bytes exceeds ${limit}`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += chunk.length;
    if (total > limit) throw new CliError('REGISTRY_REJECTED', `${what}: manifest exceeds ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

async function fetchToken(challenge: Challenge, ref: ImageReference, opts: RegistryOptions): Promise<string> {
  const realm = challenge.params.realm;
  if (!realm) throw new CliError('REGISTRY_REJECTED', 'registry asked for a bearer token without a realm');
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  url.searchParams.set('scope', challenge.params.scope ?? `repository:${ref.repository}:pull`);
  const headers: Record<string, string> = {};
  if (opts.username)
    headers.authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
  const res = await request(url.toString(), { headers }, opts, 'token service');
  if (!res.ok) throw new CliError('REGISTRY_REJECTED', `token service ${url.host} answered ${res.status}`);
  const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new CliError('REGISTRY_REJECTED', `token service ${url.host} returned no token`);
  return token;
}

export async function resolveManifest(ref: ImageReference, opts: RegistryOptions): Promise<ResolvedManifest> {
  const scheme = opts.insecure ? 'http' : 'https';
  // With tag and digest, resolve the tag and require that it still points at the digest.
  const target = ref.tag ?? ref.digest ?? 'latest';
  const url = `${scheme}://${ref.registry}/v2/${ref.repository}/manifests/${target}`;
  const what = `${ref.registry}/${ref.repository}:${target}`;
  const headers: Record<string, string> = { accept: MANIFEST_TYPES.join(', ') };
  let res = await request(url, { headers }, opts, what);
  if (res.status === 401) {
    const challenge = parseChallenge(res.headers.get('www-authenticate') ?? '');
    await res.body?.cancel();
    if (challenge.scheme === 'bearer')
      headers.authorization = `Bearer ${await fetchToken(challenge, ref, opts)}`;
    else if (challenge.scheme === 'basic' && opts.username)
      headers.authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
    else
      throw new CliError(
        'REGISTRY_REJECTED',
        `${what}: registry requires authentication (${challenge.scheme || 'none offered'})`,
      );
    res = await request(url, { headers }, opts, what);
  }
  if (res.status === 404) throw new CliError('REGISTRY_REJECTED', `${what}: no such image (404)`);
  if (!res.ok) throw new CliError('REGISTRY_REJECTED', `${what}: registry answered ${res.status}`);
  const body = await readLimited(res, opts.maxManifestBytes, what);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const claimed = res.headers.get('docker-content-digest');
  if (claimed && claimed !== digest)
    throw new CliError(
      'DIGEST_MISMATCH',
      `${what}: registry says ${claimed} but the manifest bytes hash to ${digest}`,
    );
  if (ref.digest && ref.digest !== digest)
    throw new CliError(
      'DIGEST_MISMATCH',
      `${what}: manifest bytes hash to ${digest}, not the pinned ${ref.digest}`,
    );
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  if (!MANIFEST_TYPES.includes(mediaType))
    throw new CliError('REGISTRY_REJECTED', `${what}: unexpected manifest type ${mediaType || '(none)'}`);
  return { digest, mediaType, sizeBytes: body.length };
}
