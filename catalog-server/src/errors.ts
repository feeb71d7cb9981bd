// Typed API errors: a stable code, an HTTP status and, for verification failures, every reason.
import type { Reason } from '../ui/src/shapes.js';

export type { Reason };

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly reasons: Reason[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (code: string, message: string) => new ApiError(400, code, message);
export const unauthorized = (message = 'authentication required') =>
  new ApiError(401, 'UNAUTHENTICATED', message);
export const forbidden = (message: string) => new ApiError(403, 'FORBIDDEN', message);
export const notFound = (what: string) => new ApiError(404, 'NOT_FOUND', `${what} not found`);
export const conflict = (code: string, message: string) => new ApiError(409, code, message);
export const unprocessable = (code: string, message: string, reasons: Reason[] = []) =>
  new ApiError(422, code, message, reasons);

export function errorBody(code: string, message: string, reasons: Reason[] = []) {
  return { error: { code, message, reasons } };
}
