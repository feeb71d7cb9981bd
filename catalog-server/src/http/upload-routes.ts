// Resumable artifact upload (tus-like): HEAD tells the offset, PATCH appends from it. The whole
// file is hashed when complete and moved into storage by one rename only if the sha256 matches.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { appendAudit } from '../audit/chain.js';
import { UploadTooLargeError } from '../blobs/blob-store.js';
import { ApiError, badRequest, conflict } from '../errors.js';
import { artifactBySha256, insertArtifact } from '../storage/catalog-repo.js';
import { actorOf, requireAction } from './auth-plugin.js';

const sha256Params = {
  type: 'object',
  properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
} as const;

function headerInteger(value: string | string[] | undefined, name: string): number {
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value))
    throw badRequest('HEADER_INVALID', `${name} must be a non-negative integer`);
  return Number(value);
}

export async function uploadRoutes(app: FastifyInstance) {
  const { blobs, db, config, clock } = app.services;
  const busy = new Set<string>();

  app.route<{ Params: { sha256: string } }>({
    method: 'HEAD',
    url: '/api/v1/uploads/:sha256',
    schema: { tags: ['artifacts'], params: sha256Params },
    handler: async (request, reply) => {
      requireAction(request, 'catalog.write');
      const { sha256 } = request.params;
      const stored = await artifactBySha256(db, sha256);
      if (stored)
        return reply.header('upload-offset', String(stored.sizeBytes)).header('upload-complete', '?1').send();
      return reply.header('upload-offset', String(await blobs.staging.size(sha256))).send();
    },
  });

  app.patch<{ Params: { sha256: string } }>(
    '/api/v1/uploads/:sha256',
    { schema: { tags: ['artifacts'], params: sha256Params } },
    async (request, reply) => {
      const principal = requireAction(request, 'catalog.write');
      if (request.headers['content-type'] !== 'application/offset+octet-stream')
        throw new ApiError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          'Content-Type must be application/offset+octet-stream',
        );
      const { sha256 } = request.params;
      const offset = headerInteger(request.headers['upload-offset'], 'Upload-Offset');
      const totalBytes = headerInteger(request.headers['upload-length'], 'Upload-Length');
      if (totalBytes > config.limits.maxArtifactBytes)
        throw new ApiError(
          413,
          'UPLOAD_TOO_LARGE',
          `artifacts are limited to ${config.limits.maxArtifactBytes} bytes`,
        );
      if (await artifactBySha256(db, sha256)) return reply.status(204).header('upload-complete', '?1').send();
      if (busy.has(sha256)) throw conflict('UPLOAD_BUSY', 'another upload of this artifact is in progress');
      busy.add(sha256);
      try {
        const current = await blobs.staging.size(sha256);
        if (offset !== current) {
          reply.header('upload-offset', String(current));
          throw conflict('OFFSET_MISMATCH', `upload offset is ${current}, not ${offset}`);
        }
        let size: number;
        try {
          size = await blobs.staging.append(sha256, request.body as Readable, totalBytes);
        } catch (err) {
          if (err instanceof UploadTooLargeError)
            throw new ApiError(413, 'UPLOAD_TOO_LARGE', 'body goes past Upload-Length');
          throw err;
        }
        reply.header('upload-offset', String(size));
        if (size < totalBytes) return reply.status(204).send();
        const actual = await blobs.staging.sha256(sha256);
        if (actual !== sha256) {
          await blobs.staging.delete(sha256);
          throw new ApiError(422, 'DIGEST_MISMATCH', `uploaded bytes hash to ${actual}, not ${sha256}`);
        }
        await blobs.promoteStaging(sha256, `artifacts/${sha256}`);
        await db.transaction(async (tx) => {
          await insertArtifact(tx, { sha256, sizeBytes: size, addedAt: clock().getTime() });
          await appendAudit(
            db,
            tx,
            {
              actor: actorOf(principal),
              action: 'artifact.upload',
              target: `artifact:${sha256}`,
              detail: { sizeBytes: size },
            },
            clock(),
          );
        });
        app.services.events.emit('artifact-stored', sha256);
        return reply.status(204).header('upload-complete', '?1').send();
      } finally {
        busy.delete(sha256);
      }
    },
  );
}
