// Site management API: sites, signer, trust list, approvals, auto-approve rules, upstream subscription.
import type { FastifyInstance } from 'fastify';
import type { Action } from '../auth/authorize.js';
import { badRequest, notFound } from '../errors.js';
import { buildApprovalContent } from '../sites/approval-builder.js';
import { ensureApprovalSigned } from '../sites/approval-signer.js';
import { SiteAdmin } from '../sites/site-admin.js';
import { exportSite, importSite } from '../sites/site-archive.js';
import { effectiveEndorsers } from '../sites/trust.js';
import { syncSubscription } from '../sites/upstream.js';
import {
  autoRulesOf,
  endorserApprovalsOf,
  endorsersOf,
  entryApprovalsOf,
  latestApprovalDoc,
  listSites,
  removalsOf,
  siteByName,
  subscriptionOf,
} from '../storage/site-repo.js';
import { requireAction } from './auth-plugin.js';

type SiteParams = { Params: { site: string } };
const dnBody = {
  type: 'object',
  required: ['issuer', 'subject'],
  properties: {
    issuer: { type: 'string', maxLength: 2048 },
    subject: { type: 'string', maxLength: 2048 },
    scope: { type: 'object' },
  },
} as const;
interface DnBody {
  issuer: string;
  subject: string;
  scope?: unknown;
}
const entryBody = {
  type: 'object',
  required: ['catalogId', 'entryId'],
  properties: { catalogId: { type: 'string' }, entryId: { type: 'string' } },
} as const;

export async function siteRoutes(app: FastifyInstance) {
  const services = app.services;
  const { db } = services;
  const admin = new SiteAdmin(services);
  const tags = ['sites'];
  const guard = (request: Parameters<typeof requireAction>[0], action: Action, site: string) =>
    requireAction(request, action, site);

  app.post<{ Body: { name: string; threshold?: number } }>(
    '/api/v1/sites',
    {
      schema: {
        tags,
        body: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, threshold: { type: 'integer' } },
        },
      },
    },
    async (request, reply) => {
      const p = requireAction(request, 'site.create');
      const site = await admin.create(p, request.body.name, request.body.threshold ?? 1);
      return reply.status(201).send({ name: site.name, threshold: site.threshold });
    },
  );

  app.get('/api/v1/sites', { schema: { tags } }, async (request) => {
    requireAction(request, 'read');
    return (await listSites(db)).map((s) => ({
      name: s.name,
      threshold: s.threshold,
      hasSigner: s.signerCertPem !== null,
    }));
  });

  app.get<SiteParams>('/api/v1/sites/:site', { schema: { tags } }, async (request) => {
    requireAction(request, 'read');
    const { site } = request.params;
    const record = await siteByName(db, site);
    if (!record) throw notFound(`site ${site}`);
    const doc = await latestApprovalDoc(db, site);
    const subscription = await subscriptionOf(db, site);
    return {
      name: record.name,
      threshold: record.threshold,
      hasSigner: record.signerCertPem !== null,
      approval: doc
        ? {
            version: doc.version,
            issued: new Date(doc.issuedAt).toISOString(),
            expires: new Date(doc.expiresAt).toISOString(),
          }
        : null,
      subscription: subscription ?? null,
    };
  });

  app.put<SiteParams & { Body: { certificatePem: string; privateKeyPem: string; chainPem?: string } }>(
    '/api/v1/sites/:site/signer',
    {
      schema: {
        tags,
        body: {
          type: 'object',
          required: ['certificatePem', 'privateKeyPem'],
          properties: {
            certificatePem: { type: 'string' },
            privateKeyPem: { type: 'string' },
            chainPem: { type: 'string' },
          },
        },
      },
    },
    async (request) => {
      const p = guard(request, 'site.signer', request.params.site);
      const { certificatePem, privateKeyPem, chainPem } = request.body;
      return admin.setSigner(p, request.params.site, certificatePem, privateKeyPem, chainPem);
    },
  );

  app.put<SiteParams & { Body: { threshold: number } }>(
    '/api/v1/sites/:site/threshold',
    {
      schema: {
        tags,
        body: { type: 'object', required: ['threshold'], properties: { threshold: { type: 'integer' } } },
      },
    },
    async (request, reply) => {
      const p = guard(request, 'site.trust', request.params.site);
      await admin.setThreshold(p, request.params.site, request.body.threshold);
      return reply.status(204).send();
    },
  );

  app.get<SiteParams>('/api/v1/sites/:site/trust', { schema: { tags } }, async (request) => {
    requireAction(request, 'read');
    const { site } = request.params;
    const record = await siteByName(db, site);
    if (!record) throw notFound(`site ${site}`);
    return {
      threshold: record.threshold,
      effective: await effectiveEndorsers(db, site),
      configured: await endorsersOf(db, site),
      removals: await removalsOf(db, site),
    };
  });

  app.post<SiteParams & { Body: DnBody }>(
    '/api/v1/sites/:site/endorsers',
    { schema: { tags, body: dnBody } },
    async (request, reply) => {
      const p = guard(request, 'site.trust', request.params.site);
      const { issuer, subject, scope } = request.body;
      return reply.status(201).send(await admin.addEndorser(p, request.params.site, issuer, subject, scope));
    },
  );

  app.post<SiteParams & { Body: DnBody }>(
    '/api/v1/sites/:site/endorsers/remove',
    { schema: { tags, body: dnBody } },
    async (request, reply) => {
      const p = guard(request, 'site.trust', request.params.site);
      await admin.removeEndorser(p, request.params.site, request.body.issuer, request.body.subject);
      return reply.status(204).send();
    },
  );

  for (const [path, state] of [
    ['approvals', 'approved'],
    ['revocations', 'revoked'],
  ] as const) {
    app.post<SiteParams & { Body: { catalogId: string; entryId: string } }>(
      `/api/v1/sites/:site/${path}`,
      { schema: { tags, body: entryBody } },
      async (request, reply) => {
        const p = guard(request, 'site.approve', request.params.site);
        const { catalogId, entryId } = request.body;
        return reply
          .status(201)
          .send(await admin.decideEntry(p, request.params.site, catalogId, entryId, state));
      },
    );
  }

  app.get<SiteParams>('/api/v1/sites/:site/approvals', { schema: { tags } }, async (request) => {
    requireAction(request, 'read');
    const { site } = request.params;
    const record = await siteByName(db, site);
    if (!record) throw notFound(`site ${site}`);
    const content = await buildApprovalContent(services, record);
    return {
      decisions: await entryApprovalsOf(db, site),
      endorsersApproved: await endorserApprovalsOf(db, site),
      autoRules: await autoRulesOf(db, site),
      approved: content.catalogs,
      skippedCatalogs: content.skipped,
    };
  });

  for (const [path, approve] of [
    ['endorser-approvals', true],
    ['endorser-approvals/remove', false],
  ] as const) {
    app.post<SiteParams & { Body: DnBody }>(
      `/api/v1/sites/:site/${path}`,
      { schema: { tags, body: dnBody } },
      async (request, reply) => {
        const p = guard(request, 'site.approve', request.params.site);
        await admin.approveEndorser(
          p,
          request.params.site,
          request.body.issuer,
          request.body.subject,
          approve,
        );
        return reply.status(204).send();
      },
    );
  }

  app.post<SiteParams & { Body: DnBody }>(
    '/api/v1/sites/:site/auto-rules',
    { schema: { tags, body: dnBody } },
    async (request, reply) => {
      const p = guard(request, 'site.approve', request.params.site);
      const { issuer, subject, scope } = request.body;
      return reply.status(201).send(await admin.addAutoRule(p, request.params.site, issuer, subject, scope));
    },
  );

  app.delete<{ Params: { site: string; id: string } }>(
    '/api/v1/sites/:site/auto-rules/:id',
    { schema: { tags } },
    async (request, reply) => {
      const p = guard(request, 'site.approve', request.params.site);
      await admin.removeAutoRule(p, request.params.site, request.params.id);
      return reply.status(204).send();
    },
  );

  app.post<SiteParams>('/api/v1/sites/:site/approval/sign', { schema: { tags } }, async (request) => {
    guard(request, 'site.approve', request.params.site);
    const outcome = await ensureApprovalSigned(services, request.params.site, { force: true });
    if (outcome.status === 'no-site') throw notFound(`site ${request.params.site}`);
    if (outcome.status === 'no-signer') return { status: 'no-signer' };
    return {
      status: outcome.status,
      version: outcome.doc.version,
      expires: new Date(outcome.doc.expiresAt).toISOString(),
    };
  });

  app.put<SiteParams & { Body: { url: string; signerIssuer: string; signerSubject: string } }>(
    '/api/v1/sites/:site/subscription',
    {
      schema: {
        tags,
        body: {
          type: 'object',
          required: ['url', 'signerIssuer', 'signerSubject'],
          properties: {
            url: { type: 'string', maxLength: 2048 },
            signerIssuer: { type: 'string' },
            signerSubject: { type: 'string' },
          },
        },
      },
    },
    async (request, reply) => {
      const p = guard(request, 'site.trust', request.params.site);
      const { url, signerIssuer, signerSubject } = request.body;
      await admin.subscribe(p, request.params.site, url, signerIssuer, signerSubject);
      return reply.status(204).send();
    },
  );

  app.delete<SiteParams>('/api/v1/sites/:site/subscription', { schema: { tags } }, async (request, reply) => {
    const p = guard(request, 'site.trust', request.params.site);
    await admin.unsubscribe(p, request.params.site);
    return reply.status(204).send();
  });

  app.post<SiteParams>('/api/v1/sites/:site/subscription/sync', { schema: { tags } }, async (request) => {
    guard(request, 'site.trust', request.params.site);
    const result = await syncSubscription(services, request.params.site);
    if (!result) throw notFound(`subscription of site ${request.params.site}`);
    return result;
  });

  app.get<SiteParams>('/api/v1/sites/:site/export', { schema: { tags } }, async (request, reply) => {
    const p = guard(request, 'site.export', request.params.site);
    const archive = await exportSite(services, p, request.params.site);
    return reply
      .type('application/gzip')
      .header('content-disposition', `attachment; filename="site-${request.params.site}.tar.gz"`)
      .send(archive);
  });

  app.post(
    '/api/v1/sites/import',
    { bodyLimit: services.config.limits.maxImportBytes, schema: { tags, consumes: ['application/gzip'] } },
    async (request, reply) => {
      const p = requireAction(request, 'site.import');
      if (!Buffer.isBuffer(request.body))
        throw badRequest('BODY_INVALID', 'body must be a site export (application/gzip)');
      return reply.status(201).send(await importSite(services, p, request.body));
    },
  );
}
