// The origin and BEP 19 web seed: /artifacts/<sha256>, streamed, with Range and per-client limits.
import { pipeline, type Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError, notFound } from '../errors.js';
import { OriginLimiter } from '../origin/limiter.js';
import { parseRange } from '../origin/range.js';
import { answerNotModified, quoteEtag } from './conditional.js';

export const originPlugin = fp(async (app: FastifyInstance) => {
  const { blobs, config, metrics } = app.services;
  const limiter = new OriginLimiter(config.origin);
  const cacheControl = `public, max-age=${config.static.immutableMaxAgeSeconds}, immutable`;

  app.get<{ Params: { sha256: string } }>(
    '/artifacts/:sha256',
    {
      schema: {
        tags: ['static'],
        security: [],
        params: { type: 'object', properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } } },
      },
    },
    async (request, reply) => {
      const { sha256 } = request.params;
      const sizeBytes = await blobs.size(`artifacts/${sha256}`);
      if (sizeBytes === undefined) throw notFound(`artifact ${sha256}`);
      reply.header('accept-ranges', 'bytes');
      if (answerNotModified(request, reply, quoteEtag(sha256), cacheControl)) return reply;
      const range = parseRange(request.headers.range, sizeBytes);
      if (range.kind === 'unsatisfiable') {
        reply.header('content-range', `bytes */${sizeBytes}`);
        throw new ApiError(416, 'RANGE_NOT_SATISFIABLE', `range outside 0..${sizeBytes - 1}`);
      }
      const release = limiter.acquire(request.ip);
      if (typeof release === 'string') {
        metrics.originRejected.inc();
        reply.header('retry-after', '5');
        throw release === 'client-busy'
          ? new ApiError(
              429,
              'TOO_MANY_DOWNLOADS',
              `at most ${config.origin.maxConcurrentPerClient} downloads per client`,
            )
          : new ApiError(503, 'ORIGIN_BUSY', 'origin is at its download limit, retry later');
      }
      reply.raw.once('close', release);
      const bounds =
        range.kind === 'partial' ? { start: range.start, end: range.end } : { start: 0, end: sizeBytes - 1 };
      if (sizeBytes === 0) {
        release();
        return reply.type('application/octet-stream').send(Buffer.alloc(0));
      }
      let file: Readable;
      try {
        file = await blobs.openRead(`artifacts/${sha256}`, bounds);
      } catch (err) {
        release();
        throw err;
      }
      file.on('data', (chunk: Buffer) => metrics.originBytes.inc(chunk.length));
      const throttle = limiter.throttle(request.ip);
      const stream: Readable = throttle ? pipeline(file, throttle, () => undefined) : file;
      reply.type('application/octet-stream').header('content-length', String(bounds.end - bounds.start + 1));
      if (range.kind === 'partial') {
        reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${sizeBytes}`);
      }
      return reply.send(stream);
    },
  );
});
