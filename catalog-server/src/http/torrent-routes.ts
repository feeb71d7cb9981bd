// .torrent files: uploaded by endorsers (the bytes must hash to the info hash in the URL) and served
// at /torrents/<infoHash>.torrent.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import parseTorrent from 'parse-torrent';
import { appendAudit } from '../audit/chain.js';
import { badRequest, notFound, unprocessable } from '../errors.js';
import { insertTorrent, torrentByInfoHash } from '../storage/catalog-repo.js';
import { actorOf, requireAction } from './auth-plugin.js';
import { answerNotModified, quoteEtag } from './conditional.js';

const infoHashPattern = /^[0-9a-f]{40}$/;

export async function torrentRoutes(app: FastifyInstance) {
  const { blobs, db, config, clock } = app.services;

  app.put<{ Params: { infoHash: string }; Body: Buffer }>(
    '/api/v1/torrents/:infoHash',
    { bodyLimit: config.limits.maxTorrentBytes, schema: { tags: ['torrents'] } },
    async (request, reply) => {
      const principal = requireAction(request, 'catalog.write');
      const infoHash = request.params.infoHash.toLowerCase();
      if (!infoHashPattern.test(infoHash))
        throw badRequest('INFO_HASH_INVALID', 'info hash must be 40 hex digits');
      if (!Buffer.isBuffer(request.body))
        throw badRequest('BODY_INVALID', 'body must be application/x-bittorrent');
      let parsed: Awaited<ReturnType<typeof parseTorrent>>;
      try {
        parsed = await parseTorrent(request.body);
      } catch (err) {
        throw unprocessable('TORRENT_INVALID', `not a .torrent file: ${(err as Error).message}`);
      }
      if (parsed.infoHash !== infoHash)
        throw unprocessable('INFO_HASH_MISMATCH', `torrent info hash is ${parsed.infoHash}, not ${infoHash}`);
      const sha256 = createHash('sha256').update(request.body).digest('hex');
      const existing = await torrentByInfoHash(db, infoHash);
      if (existing) return reply.status(200).send({ infoHash, sha256: existing.sha256 });
      await blobs.put(`torrents/${infoHash}`, request.body);
      await db.transaction(async (tx) => {
        await insertTorrent(tx, {
          infoHash,
          sha256,
          sizeBytes: request.body.length,
          addedAt: clock().getTime(),
        });
        await appendAudit(
          db,
          tx,
          {
            actor: actorOf(principal),
            action: 'torrent.put',
            target: `torrent:${infoHash}`,
            detail: { sha256 },
          },
          clock(),
        );
      });
      app.services.events.emit('artifact-stored', infoHash);
      return reply.status(201).send({ infoHash, sha256 });
    },
  );

  app.get<{ Params: { file: string } }>(
    '/torrents/:file',
    { schema: { tags: ['static'], security: [] } },
    async (request, reply) => {
      const match = /^([0-9a-f]{40})\.torrent$/.exec(request.params.file);
      if (!match?.[1]) throw notFound(`torrent ${request.params.file}`);
      const torrent = await torrentByInfoHash(db, match[1]);
      if (!torrent) throw notFound(`torrent ${match[1]}`);
      const cacheControl = `public, max-age=${config.static.immutableMaxAgeSeconds}, immutable`;
      if (answerNotModified(request, reply, quoteEtag(torrent.sha256), cacheControl)) return reply;
      return reply
        .type('application/x-bittorrent')
        .send(await blobs.openRead(`torrents/${torrent.infoHash}`));
    },
  );
}
