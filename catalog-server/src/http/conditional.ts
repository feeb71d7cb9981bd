// ETag / If-None-Match handling shared by every static-layout route.
import type { FastifyReply, FastifyRequest } from 'fastify';

export const quoteEtag = (tag: string) => `"${tag}"`;

export function matchesIfNoneMatch(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

/** Sets validators; answers 304 and returns true when the client already has these bytes. */
export function answerNotModified(
  request: FastifyRequest,
  reply: FastifyReply,
  etag: string,
  cacheControl: string,
): boolean {
  reply.header('etag', etag).header('cache-control', cacheControl);
  if (!matchesIfNoneMatch(request, etag)) return false;
  reply.status(304).send();
  return true;
}
