// A real docker-registry 2.8 (Debian package) for the container tests: started on a free
// 127.0.0.1 port with filesystem storage, deletes enabled and optional notifications/auth.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface RunningRegistry {
  readonly host: string;
  readonly url: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RegistryOptions {
  readonly dir: string;
  readonly notify?: { url: string; token: string };
  readonly tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not become ready: ${log()}`);
}

export async function startRegistry(options: RegistryOptions): Promise<RunningRegistry> {
  mkdirSync(options.dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(options.dir, 'data') }, delete: { enabled: true } },
      http: { addr: host },
    };
    if (options.notify)
      config.notifications = {
        events: { includereferences: true },
        endpoints: [
          {
            name: 'bridge',
            url: options.notify.url,
            headers: { Authorization: [`Bearer ${options.notify.token}`] },
            timeout: '2s',
            threshold: 5,
            backoff: '1s',
          },
        ],
      };
    if (options.tokenAuth)
      config.auth = {
        token: {
          realm: options.tokenAuth.realm,
          service: options.tokenAuth.service,
          issuer: options.tokenAuth.issuer,
          rootcertbundle: options.tokenAuth.rootCertBundle,
        },
      };
    const file = join(options.dir, 'config.yml');
    writeFileSync(file, stringify(config));
    const child = spawn('docker-registry', ['serve', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    });
    child.stderr?.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    });
    const url = `http://${host}`;
    try {
      await waitReady(url, child, () => output);
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt < 3 && /address already in use/.test(output)) continue;
      throw error;
    }
    return {
      host,
      url,
      dir: options.dir,
      stop: () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    };
  }
}
