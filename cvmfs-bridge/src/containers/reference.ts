// Image references as people write them (`registry/repo:tag@sha256:…`, with Docker Hub
// defaults) parsed into the parts the registry API and the CVMFS layout need.
import { ContainerError } from './errors.js';

export interface ImageReference {
  /** Registry host[:port] as written (docker.io for Docker Hub); used in public paths. */
  readonly registry: string;
  /** Repository path inside the registry, e.g. library/alpine. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const TAG_GLOB_RE = /^[A-Za-z0-9_*?][A-Za-z0-9_.*?-]{0,127}$/;
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
// Hostname labels: no leading/trailing dot or dash, no empty label (so no '.flat', '..').
const HOST_RE =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/;

export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

export function requireDigest(value: string, what: string): string {
  if (!DIGEST_RE.test(value))
    throw new ContainerError('BAD_REFERENCE', `${what} is not a sha256 digest: ${value}`);
  return value;
}

/** Parses `[registry/]repo[:tag][@digest]`; `allowTagGlob` accepts `*`/`?` in the tag (wishlists). */
export function parseReference(input: string, options: { allowTagGlob?: boolean } = {}): ImageReference {
  let rest = input.trim().replace(/^(https?|docker):\/\//, '');
  if (rest.length === 0 || rest.length > 1024)
    throw new ContainerError('BAD_REFERENCE', `image reference is empty or too long: ${input}`);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = requireDigest(rest.slice(at + 1), `digest in ${input}`);
    rest = rest.slice(0, at);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!HOST_RE.test(first)) throw new ContainerError('BAD_REFERENCE', `bad registry host in ${input}`);
    registry = first;
    parts.shift();
  }
  let tag: string | undefined;
  const last = parts[parts.length - 1] ?? '';
  const colon = last.lastIndexOf(':');
  if (colon >= 0) {
    tag = last.slice(colon + 1);
    parts[parts.length - 1] = last.slice(0, colon);
    const re = options.allowTagGlob ? TAG_GLOB_RE : TAG_RE;
    if (!re.test(tag)) throw new ContainerError('BAD_REFERENCE', `bad tag in ${input}`);
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT_RE.test(p)))
    throw new ContainerError('BAD_REFERENCE', `bad repository name in ${input}`);
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return {
    registry,
    repository: parts.join('/'),
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Where the registry API lives: Docker Hub's API host differs from its name. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'registry.hub.docker.com'
    ? 'registry-1.docker.io'
    : registry;
}

/** Shell-style tag glob (`*`, `?`) as a RegExp anchored on both ends. */
export function tagGlob(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\-]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

export function isGlob(tag: string): boolean {
  return tag.includes('*') || tag.includes('?');
}
