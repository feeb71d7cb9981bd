#!/usr/bin/env node
// tsw-catalog: run the server, manage users and tokens, verify the audit chain.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { verifyAuditChain } from './audit/chain.js';
import { type Config, describeConfig, loadConfig } from './config.js';
import { ApiError } from './errors.js';
import { createServices } from './services.js';
import { type Role, type RoleBinding, userByName } from './storage/users-repo.js';

const usage = `usage: tsw-catalog <command> [options] [--<config.key>=<value> ...]

commands:
  serve                          run the server
  print-config                   print the effective configuration (also: --print-config)
  user add NAME --role ROLE ...  create a user; ROLE is admin, endorser, reader or site-admin:SITE
       [--password-env VAR] [--endorser-cert PEMFILE | --endorser-identity KEY] [--totp]
  token create USER [--scope S ...] [--ttl-seconds N] [--label L]
                                 print a new API token for USER
  audit verify                   check the audit log hash chain (exit 1 when broken)

options:
  --config FILE                  YAML configuration file (default: none; every key has a default)
  --help                         this text
Every config key can also be set as TSW_CATALOG_<KEY> (e.g. TSW_CATALOG_SERVER_PORT) or --server.port=8080.`;

class CliError extends Error {
  readonly code = 'CLI_USAGE';
}

function splitConfigFlags(argv: string[]): { rest: string[]; flags: Record<string, string> } {
  const flags: Record<string, string> = {};
  const rest: string[] = [];
  for (const arg of argv) {
    const match = /^--([a-zA-Z]+\.[a-zA-Z.]+)=(.*)$/.exec(arg);
    if (match?.[1] !== undefined && match[2] !== undefined) flags[match[1]] = match[2];
    else rest.push(arg);
  }
  return { rest, flags };
}

function readPem(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

function parseRole(text: string): RoleBinding {
  const [role, site] = text.split(':');
  return site ? { role: role as Role, site } : { role: role as Role };
}

async function withServices<T>(
  config: Readonly<Config>,
  fn: (s: Awaited<ReturnType<typeof createServices>>) => Promise<T>,
) {
  const services = await createServices(config);
  try {
    return await fn(services);
  } finally {
    await services.db.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { rest, flags } = splitConfigFlags(argv);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      help: { type: 'boolean' },
      'print-config': { type: 'boolean' },
      role: { type: 'string', multiple: true },
      'password-env': { type: 'string' },
      'endorser-identity': { type: 'string' },
      'endorser-cert': { type: 'string' },
      totp: { type: 'boolean' },
      scope: { type: 'string', multiple: true },
      'ttl-seconds': { type: 'string' },
      label: { type: 'string' },
    },
  });
  if (values.help || (positionals.length === 0 && !values['print-config'])) {
    process.stdout.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  const config = loadConfig({ ...(values.config ? { file: values.config } : {}), env: process.env, flags });
  const [command, sub, arg] = positionals;
  if (values['print-config'] || command === 'print-config') {
    const lines = describeConfig(config).map(({ key, env, value }) => {
      const shown = /password|secret/i.test(key) && value ? '"(set)"' : JSON.stringify(value);
      return `${key} = ${shown}    # ${env}\n`;
    });
    process.stdout.write(lines.join(''));
    return 0;
  }
  if (command === 'serve') {
    // JSON for collectors; readable lines when a person watches a terminal
    const logger = pino({
      level: config.log.level,
      ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
    });
    // loaded only here: the management commands start faster without fastify and its plugins
    const { startServer } = await import('./server.js');
    const { uiPlugin } = await import('./ui/plugin.js');
    const server = await startServer(config, { logger, ui: uiPlugin() });
    const stop = async () => {
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return new Promise<number>(() => undefined);
  }
  if (command === 'user' && sub === 'add' && arg) {
    const roles = (values.role ?? []).map(parseRole);
    const password = values['password-env'] ? process.env[values['password-env']] : undefined;
    if (values['password-env'] && password === undefined)
      throw new CliError(`environment variable ${values['password-env']} is not set`);
    return withServices(config, async (s) => {
      const { user, totpSecret } = await s.accounts.createUser(
        {
          name: arg,
          roles,
          ...(password !== undefined ? { password } : {}),
          ...(values['endorser-identity'] ? { endorserIdentity: values['endorser-identity'] } : {}),
          ...(values['endorser-cert'] ? { endorserCertificatePem: readPem(values['endorser-cert']) } : {}),
          totp: values.totp ?? false,
        },
        'cli',
      );
      process.stdout.write(`created user ${user.name} (${user.id})\n`);
      if (totpSecret) process.stdout.write(`TOTP secret: ${totpSecret}\n`);
      return 0;
    });
  }
  if (command === 'token' && sub === 'create' && arg) {
    return withServices(config, async (s) => {
      const user = await userByName(s.db, arg);
      if (!user) throw new CliError(`no user named ${arg}`);
      const ttl = values['ttl-seconds'] === undefined ? undefined : Number(values['ttl-seconds']);
      const { token } = await s.accounts.createToken(
        user,
        {
          ...(values.scope ? { scopes: values.scope } : {}),
          ...(ttl !== undefined ? { ttlSeconds: ttl } : {}),
          ...(values.label ? { label: values.label } : {}),
        },
        'cli',
      );
      process.stdout.write(`${token}\n`);
      return 0;
    });
  }
  if (command === 'audit' && sub === 'verify') {
    return withServices(config, async (s) => {
      const check = await verifyAuditChain(s.db);
      if (check.ok) {
        process.stdout.write(`audit chain intact: ${check.records} records, head ${check.headHash}\n`);
        return 0;
      }
      process.stderr.write(
        `tsw-catalog: AUDIT_CHAIN_BROKEN at record ${check.brokenAtSeq}: ${check.reason}\n`,
      );
      return 1;
    });
  }
  throw new CliError(`unknown command "${positionals.join(' ')}" (see --help)`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const code =
      err instanceof ApiError || (err instanceof Error && 'code' in err)
        ? String((err as { code: unknown }).code)
        : 'ERROR';
    process.stderr.write(`tsw-catalog: ${code}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
