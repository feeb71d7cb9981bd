// Fastify type augmentation: the services every plugin reaches through `app.services`.
import type { Principal } from '../auth/authorize.js';
import type { Services } from '../services.js';

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}
