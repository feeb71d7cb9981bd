// tsw-agent's commands. Each loads only the modules it needs (dynamic import): a module
// loaded costs resident memory for the whole run, and `fetch` must stay small (README,
// "Benchmark"). Started by cli.ts.

import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentConfig } from './config.js';
import type { AgentStatus } from './daemon.js';
import { AgentError, errorCode, errorMessage } from './errors.js';

const HELP = `Usage: tsw-agent <command> [options]

Commands:
  run     --config FILE [--set key.path=value]... [--print-config]
          Poll the site approval, verify, download, install and seed approved entries.
  status  [--config FILE | --api 127.0.0.1:PORT | --api unix:/path] [--json]
          Show entries, progress, rates, peers.
  rates   [--config FILE | --api ...] [--up BYTES_PER_S] [--down BYTES_PER_S]   (0 = unlimited)
  fetch   --torrent FILE --sha256 HEX --entry ID --data DIR [--seed] [--set transfer.key=value]...
          Download one artifact with the agent's engine, verify and install it (debugging, tests).

Configuration: YAML file (--config or TSW_AGENT_CONFIG), then TSW_AGENT_* environment
(TSW_AGENT_TRANSFER_UPLOAD_LIMIT_BYTES_PER_SECOND=...), then --set flags. See node-agent/README.md for every key and its default.`;

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

async function configFrom(values: Values): Promise<AgentConfig> {
  const { CONFIG_FILE_ENV, loadConfig } = await import('./config.js');
  return loadConfig({
    file: values.config ?? process.env[CONFIG_FILE_ENV],
    env: process.env,
    sets: values.set ?? [],
  });
}

async function apiTarget(values: Values): Promise<string> {
  return values.api ?? (await configFrom(values)).api.listen;
}

async function run(values: Values): Promise<void> {
  const config = await configFrom(values);
  if (values['print-config']) {
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return;
  }
  const [{ PolicySiteVerifier, TransferEngine }, { pino }, { startApi }, { AgentDaemon }] = await Promise.all(
    [import('@trustswarm/fetch'), import('pino'), import('./api.js'), import('./daemon.js')],
  );
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
  const [{ apiRequest }, { renderStatus }] = await Promise.all([
    import('./api-client.js'),
    import('./status-table.js'),
  ]);
  const result = (await apiRequest(await apiTarget(values), 'GET', '/status')) as AgentStatus;
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
  const { apiRequest } = await import('./api-client.js');
  const result = await apiRequest(await apiTarget(values), 'PUT', '/rates', body);
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
  if (command === 'fetch') return (await import('./fetch-one.js')).fetchOne(values);
  throw new AgentError('CONFIG_INVALID', `unknown command ${command}; see tsw-agent --help`);
}

export function runCli(): void {
  main().catch(fail);
}

function fail(err: unknown): void {
  const code = errorCode(err, 'ERROR');
  process.stderr.write(`tsw-agent: ${code}: ${errorMessage(err)}\n`);
  process.exit(1);
}
