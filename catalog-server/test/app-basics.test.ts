// Health, metrics, docs, error bodies and limits, through fastify.inject and over a real port.

import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer } from '../src/server.js';
import { appFor, bearer, openTestServices, type TestServices, userWithToken } from './helpers.js';

describe('app basics', () => {
  let t: TestServices;
  let app: FastifyInstance;
  beforeEach(async () => {
    t = await openTestServices('sqlite', { server: { bodyLimitBytes: 1024 } });
    app = await appFor(t);
  });
  afterEach(async () => {
    await app.close();
    await t.cleanup();
  });

  it('answers health, readiness and metrics', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    const metrics = await app.inject('/metrics');
    expect(metrics.body).toContain('tsw_catalog_http_requests_total');
    expect(metrics.body).toContain('process_cpu_seconds_total');
  });

  it('serves the OpenAPI document and the docs page', async () => {
    const doc = await app.inject('/docs/json');
    expect(doc.statusCode).toBe(200);
    expect(Object.keys(doc.json().paths)).toContain('/api/v1/users');
    expect((await app.inject('/docs')).statusCode).toBeLessThan(400);
  });

  it('answers unknown routes and bad bodies with the error contract, never a stack', async () => {
    const missing = await app.inject('/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('NOT_FOUND');
    const bad = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { name: 'x' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('VALIDATION_FAILED');
    expect(bad.body).not.toMatch(/at .*\.ts:\d+/);
  });

  it('refuses bodies over the size limit with 413', async () => {
    const token = await userWithToken(t.services, 'root', [{ role: 'admin' }]);
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(token),
      payload: { name: 'x', roles: [{ role: 'reader' }], password: 'p'.repeat(2000) },
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().error.code).toBe('BODY_TOO_LARGE');
  });

  it('runs on a real port', async () => {
    const server = await startServer(t.config, { db: t.db });
    try {
      const response = await fetch(`${server.url}/healthz`);
      expect(response.status).toBe(200);
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await server.app.close();
    }
  });
});
