// The endorser's configuration: one zod schema with a default for every key, filled from
// a YAML file, then TSW_* environment variables, then command-line flags (last one wins).

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
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
      passphraseEnv: z.string().default('TSW_PASSPHRASE'),
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
      tokenEnv: z.string().default('TSW_SERVER_TOKEN'),
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
      passwordEnv: z.string().default('TSW_REGISTRY_PASSWORD'),
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

type Leaf = 'string' | 'number' | 'boolean' | 'list';

/** Every key settable from the environment: TSW_<SECTION>_<KEY> in upper snake case. */
const envKeys: Array<[string, Leaf]> = [
  ['workspace', 'string'],
  ['identity.certFile', 'string'],
  ['identity.keyFile', 'string'],
  ['identity.pkcs12File', 'string'],
  ['identity.passphraseEnv', 'string'],
  ['identity.passphraseFile', 'string'],
  ['identity.chainFile', 'string'],
  ['torrent.announce', 'list'],
  ['torrent.webSeedBase', 'string'],
  ['catalog.lifetimeDays', 'number'],
  ['catalog.endorserName', 'string'],
  ['hash.sha512', 'boolean'],
  ['server.url', 'string'],
  ['server.tokenFile', 'string'],
  ['server.timeoutSeconds', 'number'],
  ['server.uploadRetries', 'number'],
  ['registry.timeoutSeconds', 'number'],
  ['registry.insecureHosts', 'list'],
  ['verify.caPath', 'string'],
  ['verify.crlPolicy', 'string'],
  ['verify.threshold', 'number'],
];

export function envName(path: string): string {
  return `TSW_${path
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/\./g, '_')
    .toUpperCase()}`;
}

function convert(raw: string, leaf: Leaf, name: string): unknown {
  if (leaf === 'list')
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (leaf === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new CliError('CONFIG_INVALID', `${name}: expected a number, got ${raw}`);
    return n;
  }
  if (leaf === 'boolean') {
    if (/^(1|true|yes)$/i.test(raw)) return true;
    if (/^(0|false|no)$/i.test(raw)) return false;
    throw new CliError('CONFIG_INVALID', `${name}: expected true or false, got ${raw}`);
  }
  return raw;
}

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
  const raw = readConfigFile(options.configFile ?? env.TSW_CONFIG);
  for (const [path, leaf] of envKeys) {
    const name = envName(path);
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, path, convert(value, leaf, name));
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
