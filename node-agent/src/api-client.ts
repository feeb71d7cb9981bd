// Client side of the local API for `tsw-agent status` and `tsw-agent rates`; speaks
// HTTP over TCP (127.0.0.1) or a unix socket.

import { request } from 'node:http';
import { parseListen } from './api.js';
import { AgentError } from './errors.js';

export async function apiRequest(
  listen: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const target = parseListen(listen);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...('socketPath' in target
          ? { socketPath: target.socketPath }
          : { host: target.host, port: target.port }),
        method,
        path,
        headers: payload ? { 'content-type': 'application/json' } : {},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(
              new AgentError('FETCH_FAILED', `agent API ${method} ${path}: HTTP ${res.statusCode} ${text}`),
            );
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            resolve(text);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) =>
      reject(new AgentError('FETCH_FAILED', `agent API at ${listen}: ${err.message}`)),
    );
    req.end(payload);
  });
}
