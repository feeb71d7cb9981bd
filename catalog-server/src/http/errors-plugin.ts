// Turns every failure into the contract's error body; clients never see stack traces.
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError, errorBody } from '../errors.js';

function classify(err: FastifyError): { status: number; code: string; message: string } {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { status: 413, code: 'BODY_TOO_LARGE', message: err.message };
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: err.message };
  if (err.validation) return { status: 400, code: 'VALIDATION_FAILED', message: err.message };
  if (err.statusCode === 429) return { status: 429, code: 'RATE_LIMITED', message: 'too many requests' };
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
    return { status: err.statusCode, code: err.code ?? 'BAD_REQUEST', message: err.message };
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof ApiError) {
      return reply.status(err.statusCode).send(errorBody(err.code, err.message, err.reasons));
    }
    const { status, code, message } = classify(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.status(status).send(errorBody(code, message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
});
