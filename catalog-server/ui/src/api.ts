// The only door to the server: JSON over /api/v1 with the session's Bearer token, errors as
// ApiError with the server's stable code and every reason.
import { clearSession, token } from './session.js';
import type { Reason } from './shapes.js';

export type { Reason };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly reasons: Reason[] = [],
  ) {
    super(message);
  }
}

export interface RequestOptions {
  body?: unknown;
  raw?: BodyInit;
  headers?: Record<string, string>;
  /** Accept this non-2xx status as an answer (e.g. 409 of /audit/verify). */
  accept?: number[];
}

async function send(method: string, path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  let body: BodyInit | undefined = options.raw;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the server could not be reached (${(err as Error).message})`);
  }
  if (response.ok || options.accept?.includes(response.status)) return response;
  let code = `HTTP_${response.status}`;
  let message = response.statusText;
  let reasons: Reason[] = [];
  try {
    const parsed = (await response.json()) as {
      error?: { code?: string; message?: string; reasons?: Reason[] };
    };
    code = parsed.error?.code ?? code;
    message = parsed.error?.message ?? message;
    reasons = parsed.error?.reasons ?? [];
  } catch {
    // not the API's error body
  }
  if (response.status === 401 && t) {
    clearSession();
    window.dispatchEvent(
      new CustomEvent('tsw:signed-out', { detail: 'Your session ended; please sign in again.' }),
    );
  }
  throw new ApiError(response.status, code, message, reasons);
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(method, path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export async function apiText(
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<{ text: string; headers: Headers; status: number }> {
  const response = await send(method, path, options);
  return { text: await response.text(), headers: response.headers, status: response.status };
}

export const get = <T>(path: string, options?: RequestOptions) => api<T>('GET', path, options);
export const post = <T>(path: string, body?: unknown) =>
  api<T>('POST', path, body === undefined ? {} : { body });

/** One line for people: the message and every verification reason. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    const reasons = err.reasons.map((r) => r.message).filter((m) => m && m !== err.message);
    return [err.message, ...reasons].join('; ');
  }
  return err instanceof Error ? err.message : String(err);
}
