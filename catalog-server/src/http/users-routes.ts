// Accounts, login, API tokens and the audit log.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { appendAudit, verifyAuditChain } from '../audit/chain.js';
import { validateRoles } from '../auth/accounts.js';
import { OidcVerifier } from '../auth/oidc.js';
import { totpUri } from '../auth/totp.js';
import { notFound } from '../errors.js';
import { auditPage } from '../storage/audit-repo.js';
import { listUsers, type RoleBinding, revokeToken, tokenById, userByName } from '../storage/users-repo.js';
import { actorOf, requireAction } from './auth-plugin.js';

const roleSchema = {
  type: 'object',
  required: ['role'],
  additionalProperties: false,
  properties: { role: { type: 'string' }, site: { type: 'string' } },
} as const;

export async function usersRoutes(app: FastifyInstance) {
  const { accounts, config, db, clock } = app.services;
  await app.register(rateLimit, { global: false });

  app.post<{ Body: { name: string; password: string; totp?: string } }>(
    '/api/v1/auth/login',
    {
      config: {
        rateLimit: {
          max: config.auth.loginAttemptsPerMinute,
          timeWindow: 60_000,
          hook: 'preHandler',
          keyGenerator: (request) => {
            const body = request.body as { name?: unknown } | undefined;
            return `${request.ip}|${typeof body?.name === 'string' ? body.name : ''}`;
          },
        },
      },
      schema: {
        tags: ['auth'],
        security: [],
        body: {
          type: 'object',
          required: ['name', 'password'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', maxLength: 64 },
            password: { type: 'string', maxLength: 1024 },
            totp: { type: 'string', maxLength: 16 },
          },
        },
      },
    },
    async (request) => {
      const { token, record } = await accounts.login(
        request.body.name,
        request.body.password,
        request.body.totp,
      );
      return { token, expiresAt: new Date(record.expiresAt).toISOString() };
    },
  );

  if (config.auth.oidcIssuer) {
    const oidc = new OidcVerifier(config.auth, db, clock);
    app.post<{ Body: { idToken: string } }>(
      '/api/v1/auth/oidc',
      {
        config: { rateLimit: { max: config.auth.loginAttemptsPerMinute * 4, timeWindow: 60_000 } },
        schema: {
          tags: ['auth'],
          security: [],
          body: {
            type: 'object',
            required: ['idToken'],
            additionalProperties: false,
            properties: { idToken: { type: 'string', maxLength: 16384 } },
          },
        },
      },
      async (request) => {
        const user = await oidc.userFor(request.body.idToken);
        const { token, record } = await accounts.createToken(
          user,
          { ttlSeconds: config.auth.sessionTtlSeconds, label: 'oidc session' },
          `user:${user.name}`,
          'auth.oidc',
        );
        return { token, expiresAt: new Date(record.expiresAt).toISOString() };
      },
    );
  }

  app.get('/api/v1/me', { schema: { tags: ['auth'] } }, async (request) => {
    const p = requireAction(request, 'read');
    return {
      name: p.user.name,
      roles: p.user.roles,
      scopes: p.scopes,
      endorserIdentity: p.user.endorserIdentity,
    };
  });

  app.post<{
    Body: {
      name: string;
      password?: string;
      roles: RoleBinding[];
      endorserIdentity?: string;
      totp?: boolean;
    };
  }>(
    '/api/v1/users',
    {
      schema: {
        tags: ['users'],
        body: {
          type: 'object',
          required: ['name', 'roles'],
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            password: { type: 'string', maxLength: 1024 },
            roles: { type: 'array', items: roleSchema, maxItems: 64 },
            endorserIdentity: { type: 'string', maxLength: 8192 },
            endorserCertificatePem: { type: 'string', maxLength: 65536 },
            totp: { type: 'boolean' },
          },
        },
      },
    },
    async (request, reply) => {
      const p = requireAction(request, 'user.manage');
      validateRoles(request.body.roles);
      const { user, totpSecret } = await accounts.createUser(request.body, actorOf(p));
      return reply.status(201).send({
        id: user.id,
        name: user.name,
        roles: user.roles,
        endorserIdentity: user.endorserIdentity,
        ...(totpSecret ? { totpSecret, totpUri: totpUri(totpSecret, user.name) } : {}),
      });
    },
  );

  app.get('/api/v1/users', { schema: { tags: ['users'] } }, async (request) => {
    requireAction(request, 'user.manage');
    return (await listUsers(db)).map((u) => ({
      id: u.id,
      name: u.name,
      roles: u.roles,
      endorserIdentity: u.endorserIdentity,
      totp: u.totpSecret !== null,
      disabled: u.disabled,
    }));
  });

  app.patch<{ Params: { name: string }; Body: { roles?: RoleBinding[]; disabled?: boolean } }>(
    '/api/v1/users/:name',
    {
      schema: {
        tags: ['users'],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            roles: { type: 'array', items: roleSchema, maxItems: 64 },
            disabled: { type: 'boolean' },
          },
        },
      },
    },
    async (request) => {
      const p = requireAction(request, 'user.manage');
      const user = await accounts.updateUser(request.params.name, request.body, actorOf(p));
      return { id: user.id, name: user.name, roles: user.roles, disabled: user.disabled };
    },
  );

  app.post<{ Body: { user?: string; scopes?: string[]; ttlSeconds?: number; label?: string } }>(
    '/api/v1/tokens',
    {
      schema: {
        tags: ['auth'],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user: { type: 'string' },
            scopes: { type: 'array', items: { type: 'string' }, maxItems: 8 },
            ttlSeconds: { type: 'integer' },
            label: { type: 'string', maxLength: 200 },
          },
        },
      },
    },
    async (request, reply) => {
      const p = requireAction(request, 'read');
      let user = p.user;
      if (request.body.user !== undefined && request.body.user !== p.user.name) {
        requireAction(request, 'user.manage');
        const other = await userByName(db, request.body.user);
        if (!other) throw notFound(`user ${request.body.user}`);
        user = other;
      }
      const { token, record } = await accounts.createToken(user, request.body, actorOf(p));
      return reply.status(201).send({
        token,
        id: record.id,
        scopes: record.scopes,
        expiresAt: new Date(record.expiresAt).toISOString(),
      });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/tokens/:id',
    { schema: { tags: ['auth'] } },
    async (request, reply) => {
      const p = requireAction(request, 'read');
      const token = await tokenById(db, request.params.id);
      if (!token) throw notFound(`token ${request.params.id}`);
      if (token.userId !== p.user.id) {
        requireAction(request, 'user.manage');
      }
      await db.transaction(async (tx) => {
        if (!(await revokeToken(tx, token.id, clock().getTime()))) return;
        await appendAudit(
          db,
          tx,
          { actor: actorOf(p), action: 'token.revoke', target: `token:${token.id}` },
          clock(),
        );
      });
      return reply.status(204).send();
    },
  );

  app.get<{ Querystring: { after?: number; limit?: number } }>(
    '/api/v1/audit',
    {
      schema: {
        tags: ['audit'],
        querystring: {
          type: 'object',
          properties: {
            after: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
      },
    },
    async (request) => {
      requireAction(request, 'audit.read');
      return auditPage(db, request.query.after ?? 0, request.query.limit ?? 100);
    },
  );

  app.get('/api/v1/audit/verify', { schema: { tags: ['audit'] } }, async (request, reply) => {
    requireAction(request, 'audit.read');
    const check = await verifyAuditChain(db);
    return reply.status(check.ok ? 200 : 409).send(check);
  });
}
