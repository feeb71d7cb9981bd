// The one HTTP client for the catalog server API (helpers/catalog-api.md): bearer token,
// timeouts on small requests, errors turned into one line with the server's reasons.

import { CliError, messageOf } from './errors.js';

export interface ServerOptions {
  baseUrl: string;
  token: string;
  timeoutSeconds: number;
}

interface ApiErrorBody {
  error?: { code?: string; message?: string; reasons?: Array<{ code?: string; message?: string }> };
}

export class ServerClient {
  constructor(private readonly opts: ServerOptions) {}

  url(path: string): string {
    return `${this.opts.baseUrl.replace(/\/+$/, '')}/api/v1${path}`;
  }

  /** Sends one request; `streaming` requests get no overall timeout (large uploads). */
  async send(
    method: string,
    path: string,
    init: RequestInit & { streaming?: boolean } = {},
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.opts.token}`);
    const { streaming, ...rest } = init;
    try {
      return await fetch(this.url(path), {
        ...rest,
        method,
        headers,
        ...(streaming
          ? { duplex: 'half' }
          : { signal: AbortSignal.timeout(this.opts.timeoutSeconds * 1000) }),
      } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        'SERVER_UNREACHABLE',
        `${method} ${this.url(path)}: ${cause?.code ?? cause?.message ?? messageOf(err)}`,
      );
    }
  }

  /** Throws SERVER_REJECTED with the server's message and reasons unless the status is ok. */
  async expectOk(res: Response, what: string, okStatuses: number[] = []): Promise<void> {
    if (res.ok || okStatuses.includes(res.status)) return;
    const text = await res.text().catch(() => '');
    let body: ApiErrorBody = {};
    try {
      body = JSON.parse(text) as ApiErrorBody;
    } catch {}
    const code = body.error?.code ?? `HTTP_${res.status}`;
    const message = body.error?.message ?? (text.slice(0, 200) || res.statusText);
    const reasons = (body.error?.reasons ?? []).map((r) => `${r.code ?? ''}: ${r.message ?? ''}`);
    throw new CliError(
      'SERVER_REJECTED',
      `${what}: server answered ${res.status} ${code}: ${message}`,
      reasons,
    );
  }
}
