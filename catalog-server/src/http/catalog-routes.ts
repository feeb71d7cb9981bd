// The catalog API of the contract: publish (multipart), add a signature, list, get, history, drafts.
import multipart from '@fastify/multipart';
import { type CatalogEntry, parseCatalog, reasonsOf, verifyDetached } from '@trustswarm/policy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { addDraftEntry, putDraft, removeDraftEntry, signDraft } from '../catalog/drafts.js';
import { addSignature, publishCatalog, summaries } from '../catalog/publish.js';
import { badRequest, notFound } from '../errors.js';
import {
  catalogById,
  draftOf,
  entriesOf,
  listCatalogs,
  signaturesOf,
  versionOf,
  versionsOf,
} from '../storage/catalog-repo.js';
import { requireAction } from './auth-plugin.js';

const maxSignatureParts = 32;
const uuidPattern = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const idParams = { type: 'object', properties: { id: { type: 'string', pattern: uuidPattern } } } as const;
const versionParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: uuidPattern }, version: { type: 'integer', minimum: 1 } },
} as const;

function rawBody(request: FastifyRequest, what: string): Buffer {
  if (!Buffer.isBuffer(request.body) || request.body.length === 0)
    throw badRequest('BODY_INVALID', `body must be ${what}`);
  return request.body;
}

export async function catalogRoutes(app: FastifyInstance) {
  const services = app.services;
  const { db, config } = services;
  await app.register(multipart, {
    limits: {
      fileSize: config.trust.maxDocumentBytes,
      files: 1 + maxSignatureParts,
      fields: 1 + maxSignatureParts,
      parts: 2 + maxSignatureParts,
    },
    throwFileSizeLimit: true,
  });

  app.post(
    '/api/v1/catalogs',
    { schema: { tags: ['catalogs'], consumes: ['multipart/form-data'] } },
    async (request, reply) => {
      const principal = requireAction(request, 'catalog.write');
      if (!request.isMultipart()) throw badRequest('BODY_INVALID', 'body must be multipart/form-data');
      let catalog: Buffer | undefined;
      const signatures: Buffer[] = [];
      for await (const part of request.parts()) {
        const bytes = part.type === 'file' ? await part.toBuffer() : Buffer.from(String(part.value), 'utf8');
        if (part.fieldname === 'catalog') {
          if (catalog) throw badRequest('BODY_INVALID', 'only one catalog part is allowed');
          catalog = bytes;
        } else if (part.fieldname === 'signature') {
          if (part.type !== 'file')
            throw badRequest('BODY_INVALID', 'signature parts must be files (binary DER)');
          signatures.push(bytes);
        } else throw badRequest('BODY_INVALID', `unexpected part "${part.fieldname}"`);
      }
      if (!catalog) throw badRequest('BODY_INVALID', 'the catalog part is missing');
      const result = await publishCatalog(services, principal, catalog, signatures);
      const { created, ...body } = result;
      return reply.status(created ? 201 : 200).send(body);
    },
  );

  app.post<{ Params: { id: string; version: number } }>(
    '/api/v1/catalogs/:id/versions/:version/signatures',
    { schema: { tags: ['catalogs'], params: versionParams, consumes: ['application/pkcs7-signature'] } },
    async (request, reply) => {
      const principal = requireAction(request, 'catalog.write');
      const result = await addSignature(
        services,
        principal,
        request.params.id,
        request.params.version,
        rawBody(request, 'a DER signature (application/pkcs7-signature)'),
      );
      return reply.status(201).send({
        id: result.id,
        version: result.version,
        sha256: result.sha256,
        signatures: result.signatures,
      });
    },
  );

  app.get('/api/v1/catalogs', { schema: { tags: ['catalogs'] } }, async (request) => {
    requireAction(request, 'read');
    return listCatalogs(db, config.limits.maxCatalogsListed);
  });

  app.get<{ Params: { id: string } }>(
    '/api/v1/catalogs/:id',
    { schema: { tags: ['catalogs'], params: idParams } },
    async (request) => {
      requireAction(request, 'read');
      const summary = await catalogById(db, request.params.id);
      if (!summary) throw notFound(`catalog ${request.params.id}`);
      return summary;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/catalogs/:id/versions',
    { schema: { tags: ['catalogs'], params: idParams } },
    async (request) => {
      requireAction(request, 'read');
      const versions = await versionsOf(db, request.params.id);
      if (versions.length === 0) throw notFound(`catalog ${request.params.id}`);
      return Promise.all(
        versions.map(async (v) => ({
          version: v.version,
          sha256: v.sha256,
          issued: v.issued,
          expires: v.expires,
          uploadedBy: v.uploadedBy,
          uploadedAt: new Date(v.uploadedAt).toISOString(),
          signatures: await summaries(services, v.catalogId, v.version),
        })),
      );
    },
  );

  app.get<{ Params: { id: string; version: number } }>(
    '/api/v1/catalogs/:id/versions/:version',
    { schema: { tags: ['catalogs'], params: versionParams } },
    async (request) => {
      requireAction(request, 'read');
      const { id, version } = request.params;
      const stored = await versionOf(db, id, version);
      if (!stored) throw notFound(`catalog ${id} version ${version}`);
      const now = services.clock();
      const signatures = (await signaturesOf(db, id, version)).map((s) => {
        let status: {
          valid: boolean;
          reasons: { code: string; message: string }[];
          signingTime: string | null;
          notAfter: string | null;
        };
        try {
          if (!services.anchors) throw new Error('no trust anchors configured');
          const verified = verifyDetached(stored.bytes, s.der, services.anchors, { now });
          status = {
            valid: true,
            reasons: [],
            signingTime: verified.signingTime.toISOString(),
            notAfter: verified.certificate.notAfter.toISOString(),
          };
        } catch (err) {
          status = { valid: false, reasons: reasonsOf(err), signingTime: null, notAfter: null };
        }
        return {
          signerCertSha256: s.signerCertSha256,
          subject: s.subject,
          issuer: s.issuer,
          addedAt: new Date(s.addedAt).toISOString(),
          ...status,
        };
      });
      const parsed = parseCatalog(stored.bytes, { maxDocumentBytes: config.trust.maxDocumentBytes });
      const fullEntries = new Map(parsed.entries.map((e) => [e.id, e]));
      const entries = (await entriesOf(db, id, version)).map((e) => ({
        id: e.entryId,
        kind: e.kind,
        name: e.name,
        sha256: e.sha256,
        infoHash: e.infoHash,
        voTags: e.voTags,
        swarm: e.infoHash ? services.tracker.swarm(e.infoHash) : null,
        detail: fullEntries.get(e.entryId) ?? null,
      }));
      return {
        id,
        version,
        name: parsed.name,
        endorser: parsed.endorser ?? null,
        sha256: stored.sha256,
        issued: stored.issued,
        expires: stored.expires,
        uploadedBy: stored.uploadedBy,
        signatures,
        entries,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/catalogs/:id/draft',
    { schema: { tags: ['drafts'], params: idParams } },
    async (request, reply) => {
      requireAction(request, 'catalog.write');
      const draft = await draftOf(db, request.params.id);
      if (!draft) throw notFound(`draft of catalog ${request.params.id}`);
      return reply.type('application/yaml').header('x-trustswarm-sha256', draft.sha256).send(draft.bytes);
    },
  );

  app.put<{ Params: { id: string } }>(
    '/api/v1/catalogs/:id/draft',
    { schema: { tags: ['drafts'], params: idParams, consumes: ['application/yaml'] } },
    async (request) => {
      const principal = requireAction(request, 'catalog.write');
      return putDraft(
        services,
        principal,
        request.params.id,
        rawBody(request, 'catalog YAML (application/yaml)'),
      );
    },
  );

  app.post<{ Params: { id: string }; Body: CatalogEntry }>(
    '/api/v1/catalogs/:id/draft/entries',
    { schema: { tags: ['drafts'], params: idParams, body: { type: 'object' } } },
    async (request, reply) => {
      const principal = requireAction(request, 'catalog.write');
      return reply
        .status(201)
        .send(await addDraftEntry(services, principal, request.params.id, request.body));
    },
  );

  app.delete<{ Params: { id: string; entryId: string } }>(
    '/api/v1/catalogs/:id/draft/entries/:entryId',
    { schema: { tags: ['drafts'] } },
    async (request) => {
      const principal = requireAction(request, 'catalog.write');
      return removeDraftEntry(services, principal, request.params.id, request.params.entryId);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/v1/catalogs/:id/draft/signatures',
    { schema: { tags: ['drafts'], params: idParams, consumes: ['application/pkcs7-signature'] } },
    async (request, reply) => {
      const principal = requireAction(request, 'catalog.write');
      const { created, ...body } = await signDraft(
        services,
        principal,
        request.params.id,
        rawBody(request, 'a DER signature'),
      );
      return reply.status(created ? 201 : 200).send(body);
    },
  );
}
