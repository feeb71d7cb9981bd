// Resolves "Authorization: Bearer <token>" into request.principal, and gives routes one helper
// that demands an action (401 without a valid token, 403 without the role or scope).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type Action, authorize, type Principal } from '../auth/authorize.js';
import { unauthorized } from '../errors.js';

export async function principalOf(
  app: FastifyInstance,
  request: FastifyRequest,
): Promise<Principal | undefined> {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer (\S+)$/.exec(header);
  if (!match?.[1]) return undefined;
  return app.services.accounts.authenticate(match[1]);
}

export const authPlugin = fp(async (app: FastifyInstance) => {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    if (request.headers.authorization) {
      const principal = await principalOf(app, request);
      if (!principal) throw unauthorized('invalid, expired or revoked token');
      request.principal = principal;
    }
  });
});

/** The authenticated principal allowed to do `action` (on `site`), or a thrown 401/403. */
export function requireAction(request: FastifyRequest, action: Action, site?: string): Principal {
  const principal = request.principal;
  if (!principal) throw unauthorized();
  authorize(principal, action, site);
  return principal;
}

export const actorOf = (p: Principal) => `user:${p.user.name}`;
