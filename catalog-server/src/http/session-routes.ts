// What the web UI needs around sessions: which sign-in methods exist, and a user's API tokens.
import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';
import { tokensOfUser, userByName } from '../storage/users-repo.js';
import { requireAction } from './auth-plugin.js';

export async function sessionRoutes(app: FastifyInstance) {
  const { config, db, clock } = app.services;

  // public: the sign-in page must know whether to offer OIDC before anyone is signed in
  app.get('/api/v1/auth/methods', { schema: { tags: ['auth'], security: [] } }, async () => ({
    password: true,
    oidc: config.auth.oidcIssuer
      ? { issuer: config.auth.oidcIssuer, clientId: config.auth.oidcAudience }
      : null,
  }));

  app.get<{ Querystring: { user?: string } }>(
    '/api/v1/tokens',
    {
      schema: {
        tags: ['auth'],
        querystring: { type: 'object', properties: { user: { type: 'string', maxLength: 64 } } },
      },
    },
    async (request) => {
      const p = requireAction(request, 'read');
      let user = p.user;
      if (request.query.user !== undefined && request.query.user !== p.user.name) {
        requireAction(request, 'user.manage');
        const other = await userByName(db, request.query.user);
        if (!other) throw notFound(`user ${request.query.user}`);
        user = other;
      }
      const now = clock().getTime();
      return (await tokensOfUser(db, user.id)).map((t) => ({
        id: t.id,
        label: t.label,
        scopes: t.scopes,
        createdAt: new Date(t.createdAt).toISOString(),
        expiresAt: new Date(t.expiresAt).toISOString(),
        revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString(),
        active: t.revokedAt === null && t.expiresAt > now,
        current: t.id === p.tokenId,
      }));
    },
  );
}
