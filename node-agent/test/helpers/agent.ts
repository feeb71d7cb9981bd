// Runs `tsw-agent run` as a separate process with a YAML config, and reads its JSON
// status API through the address file it writes.

import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { apiRequest } from '../../src/api-client.js';
import type { AgentStatus } from '../../src/daemon.js';
import { cliPath } from './build.js';

export interface AgentProcess {
  proc: ResultPromise;
  api: string;
  dataDir: string;
  status(): Promise<AgentStatus>;
  waitForStatus(pred: (s: AgentStatus) => boolean, timeoutMs?: number): Promise<AgentStatus>;
}

export async function spawnAgent(dataDir: string, config: Record<string, unknown>): Promise<AgentProcess> {
  await mkdir(dataDir, { recursive: true });
  const configPath = join(dataDir, 'agent.yaml');
  await writeFile(configPath, stringify({ dataDir, api: { listen: '127.0.0.1:0' }, ...config }));
  const addressFile = join(dataDir, 'api.address');
  await rm(addressFile, { force: true }); // a restart must not read the previous run's address
  const proc = execa('node', [cliPath, 'run', '--config', configPath], { reject: false });
  const started = Date.now();
  while (!existsSync(addressFile)) {
    if (proc.exitCode !== null || Date.now() - started > 20_000) {
      proc.kill();
      const r = await proc;
      throw new Error(`agent did not start: ${String(r.stderr).slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = (await readFile(addressFile, 'utf8')).trim();
  const status = async () => (await apiRequest(api, 'GET', '/status')) as AgentStatus;
  return {
    proc,
    api,
    dataDir,
    status,
    async waitForStatus(pred, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: AgentStatus | undefined;
      while (Date.now() < deadline) {
        last = await status();
        if (pred(last)) return last;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(
        `agent ${dataDir} never reached the expected state; last: ${JSON.stringify(last).slice(0, 1500)}`,
      );
    },
  };
}
