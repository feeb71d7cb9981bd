// The bridge's configuration: one schema with a default for every key, filled from a YAML
// file, then TSW_BRIDGE_* environment variables, then command-line flags (later wins).
// A scalar key of a section has its own variable too: s3.caFile is TSW_BRIDGE_S3_CA_FILE.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BridgeError } from './errors.js';
import { flowConfigShape } from './flows/config.js';

export const ConfigSchema = z
  .object({
    storageDir: z.string().min(1).default('/srv/cvmfs'),
    stateDir: z.string().min(1).default('/var/lib/tsw-bridge'),
    backend: z.enum(['native', 'cvmfs_server']).default('native'),
    cvmfsServerCommand: z.string().min(1).default('cvmfs_server'),
    compressionLevel: z.coerce.number().int().min(1).max(9).default(1),
    workers: z.coerce.number().int().min(1).max(64).default(Math.max(1, availableParallelism())),
    maxCatalogEntries: z.coerce.number().int().min(100).max(200_000).default(200_000),
    ttlSeconds: z.coerce.number().int().min(1).default(240),
    whitelistDays: z.coerce.number().int().min(1).max(365).default(30),
    resignWithinDays: z.coerce.number().int().min(0).default(7),
    gcGraceSeconds: z.coerce.number().int().min(0).default(86_400),
    serveHost: z.string().default('127.0.0.1'),
    servePort: z.coerce.number().int().min(0).max(65_535).default(8000),
    /** Hours between whitelist checks while serving; 0 disables the schedule. */
    resignCheckHours: z.coerce.number().min(0).default(12),
    /** Base URL clients use; @fqrn@ is replaced by the repository name. */
    publicUrl: z.string().default('http://localhost:8000/cvmfs/@fqrn@'),
    /** Sections of `tsw-bridge run` (approved content, S3, requests): see src/flows/config.ts. */
    ...flowConfigShape,
  })
  .strict();

export type BridgeConfig = Readonly<z.infer<typeof ConfigSchema>>;

const ENV_PREFIX = 'TSW_BRIDGE_';

function envKey(key: string): string {
  return ENV_PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** The schema under its default/prefault/optional wrappers. */
function bare(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional)
    s = s.unwrap() as z.ZodType;
  return s;
}

/** An environment value as the key's type: numbers and booleans parsed, strings as they are. */
function fromEnvValue(schema: z.ZodType, value: string): unknown {
  if (schema instanceof z.ZodNumber) return value.trim() === '' ? value : Number(value);
  if (schema instanceof z.ZodBoolean) return value === 'true' ? true : value === 'false' ? false : value;
  return value;
}

/** TSW_BRIDGE_<SECTION>_<KEY> values of the sections' scalar keys (lists and sub-sections: file only). */
function sectionsFromEnv(env: NodeJS.ProcessEnv): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, schema] of Object.entries(ConfigSchema.shape)) {
    const object = bare(schema);
    if (!(object instanceof z.ZodObject)) continue;
    for (const [key, keySchema] of Object.entries(object.shape as Record<string, z.ZodType>)) {
      const leaf = bare(keySchema);
      const scalar =
        leaf instanceof z.ZodString ||
        leaf instanceof z.ZodEnum ||
        leaf instanceof z.ZodNumber ||
        leaf instanceof z.ZodBoolean;
      const value = env[`${envKey(section)}_${envKey(key).slice(ENV_PREFIX.length)}`];
      if (!scalar || value === undefined) continue;
      out[section] ??= {};
      out[section][key] = fromEnvValue(leaf, value);
    }
  }
  return out;
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function loadConfig(
  options: { file?: string; env?: NodeJS.ProcessEnv; flags?: Record<string, unknown> } = {},
): BridgeConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env.TSW_BRIDGE_CONFIG;
  let fromFile: Record<string, unknown> = {};
  if (file) {
    if (!existsSync(file)) throw new BridgeError('CONFIG_INVALID', `config file ${file} does not exist`);
    const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
    if (parsed !== null && typeof parsed !== 'object')
      throw new BridgeError('CONFIG_INVALID', `config file ${file} is not a YAML mapping`);
    fromFile = (parsed ?? {}) as Record<string, unknown>;
  }
  const fromEnv: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const value = env[envKey(key)];
    if (value !== undefined) fromEnv[key] = value;
  }
  // A section's variables override single keys of the file's section, not the whole section.
  for (const [section, values] of Object.entries(sectionsFromEnv(env))) {
    const base = fromEnv[section] ?? fromFile[section] ?? {};
    fromEnv[section] = isMapping(base) ? { ...base, ...values } : base;
  }
  const fromFlags = Object.fromEntries(
    Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined),
  );
  const result = ConfigSchema.safeParse({ ...fromFile, ...fromEnv, ...fromFlags });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new BridgeError(
      'CONFIG_INVALID',
      `config ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return Object.freeze(result.data);
}

export function configEnvNames(): Record<string, string> {
  return Object.fromEntries(Object.keys(ConfigSchema.shape).map((k) => [k, envKey(k)]));
}
