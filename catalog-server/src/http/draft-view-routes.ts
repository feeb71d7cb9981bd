// A JSON view of a catalog's draft for the web UI (the exact bytes stay at GET .../draft).
import { parseCatalog } from '@trustswarm/policy';
import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';
import { catalogById, draftOf } from '../storage/catalog-repo.js';
import { requireAction } from './auth-plugin.js';

export async function draftViewRoutes(app: FastifyInstance) {
  const { db, config } = app.services;

  app.get<{ Params: { id: string } }>(
    '/api/v1/catalogs/:id/draft/summary',
    {
      schema: {
        tags: ['drafts'],
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } },
      },
    },
    async (request) => {
      requireAction(request, 'catalog.write');
      const summary = await catalogById(db, request.params.id);
      const draft = await draftOf(db, request.params.id);
      if (!summary && !draft) throw notFound(`catalog ${request.params.id}`);
      const published = summary?.latestVersion ?? 0;
      const name = summary?.name ?? '';
      if (!draft) return { exists: false, name, publishedVersion: published, nextVersion: published + 1 };
      const catalog = parseCatalog(draft.bytes, { maxDocumentBytes: config.trust.maxDocumentBytes });
      return {
        exists: true,
        name: catalog.name,
        publishedVersion: published,
        nextVersion: catalog.version,
        sha256: draft.sha256,
        updatedBy: draft.updatedBy,
        updatedAt: new Date(draft.updatedAt).toISOString(),
        expires: catalog.expires,
        entries: catalog.entries.map((e) => ({
          id: e.id,
          name: e.name,
          version: e.version,
          kind: e.kind,
          sha256: e.artifact?.sha256 ?? e.oci?.digest ?? '',
        })),
      };
    },
  );
}
