// The demo's processes: every TrustSwarm binary runs as its own process from the built
// packages, exactly as an operator would start it. Failures become one clear line.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = {
  catalog: join(ROOT, 'catalog-server', 'dist', 'cli.js'),
  endorse: join(ROOT, 'endorser-cli', 'dist', 'cli.js'),
  agent: join(ROOT, 'node-agent', 'dist', 'cli.js'),
  bridge: join(ROOT, 'cvmfs-bridge', 'dist', 'cli.js'),
};

/**
 * `node` arguments that run tsw-agent as installed: the bundle (node-agent/scripts/bundle.mjs)
 * with the node flags of its `#!` line (its young-generation size), not dist/cli.js.
 */
export function installedAgentArgs(): string[] {
  const bundle = join(ROOT, 'node-agent', 'dist', 'tsw-agent.mjs');
  const shebang = readFileSync(bundle, 'utf8').split('\n', 1)[0] ?? '';
  const flags = /^#!\S*env -S node(?<flags>( --\S+)*)$/.exec(shebang)?.groups?.flags;
  if (flags === undefined) throw new Error(`${bundle}: unexpected first line ${shebang}`);
  return [...flags.split(' ').filter(Boolean), bundle];
}

const running = new Set<ResultPromise>();

/** Runs a binary to completion; throws one line with the tail of its stderr on failure. */
export async function run(bin: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await execa('node', [bin, ...args], { reject: false, env, stdin: 'ignore' });
  if (r.exitCode !== 0) {
    const why = String(r.stderr || r.stdout)
      .trim()
      .split('\n')
      .slice(-1)[0];
    throw new Error(`${bin.split('/').slice(-3, -2)[0]} ${args.slice(0, 2).join(' ')} failed: ${why}`);
  }
  return String(r.stdout);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A catalog server config on embedded defaults (SQLite, fs blobs) under `dir`; returns its path. */
export async function writeCatalogServerConfig(
  dir: string,
  caPath: string,
  host = '127.0.0.1',
  extra: Record<string, unknown> = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'catalog.yaml');
  await writeFile(
    path,
    JSON.stringify({
      server: { host, port: 0 },
      storage: { backend: 'sqlite', sqlitePath: join(dir, 'catalog.db') },
      blobs: { backend: 'fs', directory: join(dir, 'blobs') },
      trust: { caPath },
      // info: the "Server listening at" line is how startCatalogServer learns the port
      log: { level: 'info' },
      ...extra,
    }),
  );
  return path;
}

export interface CatalogServer {
  url: string;
  /** the server's process id (its CPU time is read from /proc by the swarm benchmark) */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** `tsw-catalog serve` on its configured address and port 0; the URL comes from its "listening" log line. */
export async function startCatalogServer(configPath: string): Promise<CatalogServer> {
  const proc = execa('node', [BIN.catalog, 'serve', '--config', configPath], {
    reject: false,
    buffer: false,
  });
  running.add(proc);
  let log = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    if (log.length < 1_000_000) log += chunk.toString();
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    if (log.length < 1_000_000) log += chunk.toString();
  });
  const url = await waitFor('the catalog server', 30_000, async () => {
    if (proc.exitCode !== null)
      throw new Error(`catalog server exited: ${log.trim().split('\n').slice(-1)[0]}`);
    return /Server listening at (http:\/\/\d+\.\d+\.\d+\.\d+:\d+)/.exec(log)?.[1];
  });
  return { url, pid: proc.pid, stop: () => stop(proc) };
}

export interface AgentStatusView {
  approval: { version: number; expires: string; valid: boolean } | null;
  lastSync: { kind: string; code?: string; message?: string; at: string } | null;
  installed: Array<{ entryId: string; path: string }>;
  bannedPeers: number;
  transfers: Array<{
    infoHash: string;
    state: string;
    progress: number;
    sizeBytes: number;
    receivedBytes: number;
    conns: number;
    downloadBytesPerSecond: number;
    uploadBytesPerSecond: number;
    webSeedUsed: boolean;
  }>;
}

export interface Agent {
  name: string;
  dataDir: string;
  status(): Promise<AgentStatusView>;
  /** Changes the agent's rate limits through its control API (0 = unlimited). */
  setRates(rates: {
    uploadLimitBytesPerSecond?: number;
    downloadLimitBytesPerSecond?: number;
  }): Promise<void>;
  /** kill -9: no shutdown handler runs, as after a crash or power loss. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** `tsw-agent run` with a config file; its local API address is read from DATA/api.address. */
export async function startAgent(name: string, dataDir: string, config: object): Promise<Agent> {
  await mkdir(dataDir, { recursive: true });
  const configPath = join(dataDir, 'agent.yaml');
  await writeFile(
    configPath,
    JSON.stringify({ dataDir, api: { listen: '127.0.0.1:0' }, ...config }, null, 2),
  );
  const addressFile = join(dataDir, 'api.address');
  await rm(addressFile, { force: true }); // a restarted agent writes its new address
  // Its log goes to DATA/agent.log, kept for a look after a failure.
  const log = { file: join(dataDir, 'agent.log'), append: true };
  const proc = execa('node', [BIN.agent, 'run', '--config', configPath], {
    reject: false,
    buffer: false,
    stdout: log,
    stderr: log,
  });
  running.add(proc);
  const api = await waitFor(`agent ${name}`, 30_000, async () => {
    if (proc.exitCode !== null) throw new Error(`agent ${name} exited with ${proc.exitCode}`);
    return existsSync(addressFile) ? (await readFile(addressFile, 'utf8')).trim() : undefined;
  });
  return {
    name,
    dataDir,
    async status() {
      const res = await fetch(`http://${api}/status`);
      if (!res.ok) throw new Error(`agent ${name} status: HTTP ${res.status}`);
      return (await res.json()) as AgentStatusView;
    },
    async setRates(rates) {
      const res = await fetch(`http://${api}/rates`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(rates),
      });
      if (!res.ok) throw new Error(`agent ${name} rates: HTTP ${res.status} ${await res.text()}`);
    },
    async kill() {
      running.delete(proc);
      proc.kill('SIGKILL');
      await proc;
    },
    stop: () => stop(proc),
  };
}

/** A long-running binary with its log in `logFile`, stopped by stopAll. */
export function startProcess(bin: string, args: string[], logFile: string): ResultPromise {
  const log = { file: logFile, append: true };
  const proc = execa('node', [bin, ...args], { reject: false, buffer: false, stdout: log, stderr: log });
  running.add(proc);
  return proc;
}

export { stop as stopProcess };

async function stop(proc: ResultPromise): Promise<void> {
  running.delete(proc);
  if (proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await proc;
  clearTimeout(timer);
}

/** Stops every process this module started (on success, failure and Ctrl-C alike). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map(stop));
}

export { waitFor };
