#!/usr/bin/env node
// tsw-agent: run the node agent, show its status, change its rates, or fetch one artifact.

import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PolicySiteVerifier, TransferEngine } from '@trustswarm/fetch';
import { pino } from 'pino';
import { startApi } from './api.js';
import { apiRequest } from './api-client.js';
import { type AgentConfig, loadConfig } from './config.js';
import { AgentDaemon, type AgentStatus } from './daemon.js';
import { AgentError, errorCode, errorMessage } from './errors.js';
import { fetchOne } from './fetch-one.js';
import { renderStatus } from './status-table.js';

const HELP = `Usage: tsw-agent <command> [options]

Commands:
  run     --config FILE [--set key.path=value]... [--print-config]
          Poll the site approval, verify, download, install and seed approved entries.
  status  [--config FILE | --api 127.0.0.1:PORT | --api unix:/path] [--json]
          Show entries, progress, rates, peers.
  rates   [--config FILE | --api ...] [--up BYTES_PER_S] [--down BYTES_PER_S]   (0 = unlimited)
  fetch   --torrent FILE --sha256 HEX --entry ID --data DIR [--seed] [--set transfer.key=value]...
          Download one artifact with the agent's engine, verify and install it (debugging, tests).

Configuration: YAML file, then TSW_* environment (TSW_TRANSFER__UPLOAD_LIMIT_BYTES_PER_SECOND=...),
then --set flags. See node-agent/README.md for every key and its default.`;

const options = {
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  'print-config': { type: 'boolean' },
  api: { type: 'string' },
  json: { type: 'boolean' },
  up: { type: 'string' },
  down: { type: 'string' },
  torrent: { type: 'string' },
  sha256: { type: 'string' },
  entry: { type: 'string' },
  data: { type: 'string' },
  seed: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function configFrom(values: Values): AgentConfig {
  return loadConfig({
    file: values.config ?? process.env.TSW_CONFIG,
    env: process.env,
    sets: values.set ?? [],
  });
}

function apiTarget(values: Values): string {
  return values.api ?? configFrom(values).api.listen;
}

async function run(values: Values): Promise<void> {
  const config = configFrom(values);
  if (values['print-config']) {
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return;
  }
  const logger = pino({ level: config.log.level, base: { site: config.site, host: config.host.name } });
  const engine = await TransferEngine.start(config.transfer, {
    onBan: (infoHash, e) => logger.warn({ infoHash, ...e }, 'peer banned: sent a corrupt piece'),
    onWebSeed: (infoHash, reason) => logger.info({ infoHash, reason }, 'web seed enabled'),
    onWarning: (infoHash, message) => logger.debug({ infoHash }, message),
  });
  const verifier = new PolicySiteVerifier({
    site: config.site,
    caPath: config.trust.caPath,
    crlPolicy: config.trust.crlPolicy,
    siteSigners: config.trust.siteSigners,
    highWaterPath: join(config.dataDir, 'high-water.json'),
  });
  const daemon = new AgentDaemon({ config, engine, verifier, logger });
  await daemon.store.init();
  const app = await startApi(daemon, engine, {
    listen: config.api.listen,
    rates: {
      uploadLimitBytesPerSecond: config.transfer.uploadLimitBytesPerSecond,
      downloadLimitBytesPerSecond: config.transfer.downloadLimitBytesPerSecond,
    },
  });
  const address = app.server.address();
  const listen = typeof address === 'string' ? `unix:${address}` : `127.0.0.1:${address?.port}`;
  // temp + rename: scripts poll for this file and must never read it half-written
  await writeFile(join(config.dataDir, 'api.address.tmp'), listen);
  await rename(join(config.dataDir, 'api.address.tmp'), join(config.dataDir, 'api.address'));
  logger.info({ api: listen, torrentPort: engine.port }, 'agent started');

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    await daemon.stop();
    await app.close();
    await engine.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  await daemon.start();
}

async function status(values: Values): Promise<void> {
  const result = (await apiRequest(apiTarget(values), 'GET', '/status')) as AgentStatus;
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderStatus(result)}\n`);
}

function rateArg(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new AgentError('CONFIG_INVALID', `--${name} ${text}: expected bytes per second`);
  return n;
}

async function rates(values: Values): Promise<void> {
  const body = {
    ...(values.up !== undefined ? { uploadLimitBytesPerSecond: rateArg('up', values.up) } : {}),
    ...(values.down !== undefined ? { downloadLimitBytesPerSecond: rateArg('down', values.down) } : {}),
  };
  const result = await apiRequest(apiTarget(values), 'PUT', '/rates', body);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ options, allowPositionals: true });
  } catch (err) {
    throw new AgentError('CONFIG_INVALID', errorMessage(err).split('\n')[0] ?? 'bad arguments');
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (command === 'run') return run(values);
  if (command === 'status') return status(values);
  if (command === 'rates') return rates(values);
  if (command === 'fetch') return fetchOne(values);
  throw new AgentError('CONFIG_INVALID', `unknown command ${command}; see tsw-agent --help`);
}

main().catch((err: unknown) => {
  const code = errorCode(err, 'ERROR');
  process.stderr.write(`tsw-agent: ${code}: ${errorMessage(err)}\n`);
  process.exit(1);
});
