// Runs `tsw-bridge run` as its own process from dist/ (as an operator would), collects its
// JSON log lines, and reads repositories back through the verifying CVMFS reader.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { LocalFetcher } from '../../../src/reader/fetcher.js';
import { RepositoryReader } from '../../../src/reader/reader.js';
import { generateRepositoryKeys } from '../../../src/repo/keys.js';
import { DEFAULT_REPO_SETTINGS, Repository } from '../../../src/repo/repository.js';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'cli.js');

export interface BridgeProcess {
  proc: ResultPromise;
  logs: Record<string, unknown>[];
  waitForLog(
    pred: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  status(): Promise<Record<string, unknown>>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** A new repository under `base/srv` with its keys under `base/state`, where the flows' config points. */
export function createRepoIn(base: string, fqrn: string): Repository {
  return Repository.create(
    fqrn,
    { ...DEFAULT_REPO_SETTINGS, storageDir: join(base, 'srv'), stateDir: join(base, 'state') },
    new Date(),
    generateRepositoryKeys(fqrn),
  );
}

export async function startBridge(
  dir: string,
  config: Record<string, unknown>,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<BridgeProcess> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `bridge-${Date.now()}.yaml`);
  await writeFile(file, stringify({ http: { listen: '127.0.0.1:0' }, ...config }));
  const proc = execa('node', [...nodeArgs, CLI, '--config', file, 'run'], {
    reject: false,
    buffer: false,
    env,
  });
  const logs: Record<string, unknown>[] = [];
  let tail = '';
  let rest = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        tail += `${line}\n`;
      }
    }
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  const waitForLog: BridgeProcess['waitForLog'] = async (pred, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = logs.find(pred);
      if (found) return found;
      if (proc.exitCode !== null) throw new Error(`bridge exited (${proc.exitCode}): ${tail.slice(-1500)}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for a bridge log line; stderr: ${tail.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const listening = await waitForLog((l) => l.msg === 'status and metrics listening', 30_000);
  const url = String(listening.url);
  // Queues and bindings exist once the consumers are set up: events published before are unroutable.
  const flows = config as { s3?: { enabled?: boolean }; requests?: { enabled?: boolean } };
  if (flows.s3?.enabled || flows.requests?.enabled)
    await waitForLog((l) => l.msg === 'RabbitMQ connected', 30_000);
  return {
    proc,
    logs,
    waitForLog,
    async metrics() {
      return (await fetch(`${url}/metrics`)).text();
    },
    async status() {
      return (await (await fetch(`${url}/status`)).json()) as Record<string, unknown>;
    },
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await proc;
      clearTimeout(timer);
    },
  };
}

/** Opens the published revision with the stock client's checks; undefined if a path is absent. */
export async function readRepo(
  publicDir: string,
  fqrn: string,
  masterPublicKeyPem: string,
): Promise<RepositoryReader> {
  return RepositoryReader.open(new LocalFetcher(publicDir), {
    fqrn,
    masterPublicKeysPem: [masterPublicKeyPem],
  });
}

/** Polls the repository until `check` holds for the published revision. */
export async function waitForRepo(
  publicDir: string,
  fqrn: string,
  key: string,
  check: (reader: RepositoryReader) => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<RepositoryReader> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const reader = await readRepo(publicDir, fqrn, key);
      if (await check(reader)) return reader;
      reader.close();
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`repository ${fqrn} never reached the expected state ${lastError}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** File content at `path` in the published revision, or undefined when absent. */
export async function fileAt(reader: RepositoryReader, path: string): Promise<string | undefined> {
  const d = await reader.lookup(path);
  if (d?.kind !== 'file') return undefined;
  return (await reader.readFile(path)).toString();
}

export async function ensureDir(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
}
