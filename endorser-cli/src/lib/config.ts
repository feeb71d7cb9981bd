// The endorser's configuration: one zod schema with a default for every key, filled from
// a YAML file, then TSW_ENDORSE_* environment variables, then command-line flags (last one wins).

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { configFromEnv } from '@trustswarm/policy';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CliError, fsError, messageOf } from './errors.js';

const home = () => process.env.HOME ?? homedir();

export const configSchema = z.strictObject({
  /** Directory holding the catalog being edited (catalog.yaml, signatures/, torrents/ …). */
  workspace: z.string().default('.'),
  identity: z
    .strictObject({
      certFile: z.string().default('~/.globus/usercert.pem'),
      keyFile: z.string().default('~/.globus/userkey.pem'),
      /** A PKCS#12 file used instead of certFile + keyFile when set. */
      pkcs12File: z.string().optional(),
      /** Environment variable holding the key passphrase. */
      passphraseEnv: z.string().default('TSW_ENDORSE_PASSPHRASE'),
      passphraseFile: z.string().optional(),
      /** PEM file with intermediate CA certificates to include in signatures. */
      chainFile: z.string().optional(),
    })
    .prefault({}),
  torrent: z
    .strictObject({
      /** Tracker URLs; empty means the server's /announce when server.url is set. */
      announce: z.array(z.url()).default([]),
      /** Base URL of the origin; the web seed is <base>/artifacts/<sha256> (BEP 19). */
      webSeedBase: z.url().optional(),
    })
    .prefault({}),
  catalog: z
    .strictObject({
      lifetimeDays: z.number().int().min(1).max(180).default(30),
      endorserName: z.string().optional(),
    })
    .prefault({}),
  hash: z.strictObject({ sha512: z.boolean().default(false) }).prefault({}),
  server: z
    .strictObject({
      url: z.url().optional(),
      tokenFile: z.string().optional(),
      /** Environment variable holding the API token. */
      tokenEnv: z.string().default('TSW_ENDORSE_SERVER_TOKEN'),
      timeoutSeconds: z.number().int().min(1).default(30),
      uploadRetries: z.number().int().min(0).max(100).default(3),
    })
    .prefault({}),
  registry: z
    .strictObject({
      timeoutSeconds: z.number().int().min(1).default(30),
      maxManifestBytes: z
        .number()
        .int()
        .min(1024)
        .default(4 * 1024 * 1024),
      /** Plain HTTP for registries on these hosts (tests, local mirrors). */
      insecureHosts: z.array(z.string()).default([]),
      /** Environment variable with the registry password (with --username). */
      passwordEnv: z.string().default('TSW_ENDORSE_REGISTRY_PASSWORD'),
    })
    .prefault({}),
  verify: z
    .strictObject({
      caPath: z.string().default('/etc/grid-security/certificates'),
      crlPolicy: z.enum(['require', 'if-present']).default('require'),
      threshold: z.number().int().min(1).default(1),
      /** Site certificates (issuer + subject, slash form) whose approvals are believed. */
      siteSigners: z.array(z.strictObject({ issuer: z.string(), subject: z.string() })).default([]),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

const defaults: Config = configSchema.parse({});

/** This program's environment prefix (policy's env-config), and the variable naming its file. */
export const ENV_PREFIX = 'TSW_ENDORSE';
export const CONFIG_FILE_ENV = 'TSW_ENDORSE_CONFIG';

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

export function defaultConfigPath(): string {
  return join(home(), '.config', 'trustswarm', 'endorse.yaml');
}

function readConfigFile(path: string | undefined): Record<string, unknown> {
  const explicit = path !== undefined;
  const file = path ?? defaultConfigPath();
  if (!explicit && !existsSync(file)) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fsError(err, `config file ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new CliError('CONFIG_INVALID', `config file ${file}: ${messageOf(err).split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CliError('CONFIG_INVALID', `config file ${file}: expected a mapping`);
  return parsed as Record<string, unknown>;
}

/** Flag overrides, as dotted config paths (e.g. {"server.url": "https://…"}). */
export type ConfigOverrides = Record<string, unknown>;

export function loadConfig(options: {
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
}): Config {
  const env = options.env ?? process.env;
  const raw = readConfigFile(options.configFile ?? env[CONFIG_FILE_ENV]);
  // Secrets are read from variables named in the config; those names are no settings.
  const secretNames = [
    ['identity', 'passphraseEnv'],
    ['server', 'tokenEnv'],
    ['registry', 'passwordEnv'],
  ].map(([section, key]) => {
    const fromFile = (raw[section as string] as Record<string, unknown> | undefined)?.[key as string];
    const schemaDefault = (defaults[section as keyof Config] as Record<string, unknown>)[key as string];
    return String(fromFile ?? schemaDefault);
  });
  try {
    configFromEnv(configSchema, ENV_PREFIX, env, { reserved: [CONFIG_FILE_ENV, ...secretNames], into: raw });
  } catch (err) {
    throw new CliError('CONFIG_INVALID', messageOf(err));
  }
  for (const [path, value] of Object.entries(options.overrides ?? {}))
    if (value !== undefined) setPath(raw, path, value);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join('.') || '(config)';
    throw new CliError('CONFIG_INVALID', `config: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return Object.freeze(result.data);
}

/** Expands a leading ~ and makes the path absolute. */
export function expandPath(path: string): string {
  if (path === '~') return home();
  if (path.startsWith('~/')) return join(home(), path.slice(2));
  return resolve(path);
}
