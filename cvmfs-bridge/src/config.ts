// The bridge's configuration: one schema with a default for every key, filled from a YAML
// file, then TSW_BRIDGE_<KEY PATH> environment variables (the rule every TrustSwarm program
// follows: s3.caFile is TSW_BRIDGE_S3_CA_FILE), then command-line flags (later wins).
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { configFromEnv, EnvConfigError, envKeys, envName } from '@trustswarm/policy';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ContainerConfigSchema } from './containers/config.js';
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
    /** How long a writer waits for another one on the same repository; 0 refuses at once. */
    lockWaitSeconds: z.coerce.number().min(0).default(60),
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

const ENV_PREFIX = 'TSW_BRIDGE';
const CONFIG_FILE_ENV = 'TSW_BRIDGE_CONFIG';
const CONTAINERS_PREFIX = `${ENV_PREFIX}_CONTAINERS`;
/** Keys whose value names the variable a secret is read from (that variable is no setting). */
const SECRET_NAME_KEYS = [
  ['keyStore', 'passphraseEnv'],
  ['keyStore', 'vault', 'tokenEnv'],
] as const;

type Tree = Record<string, unknown>;

const isMapping = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

function valueAt(tree: unknown, path: readonly string[]): unknown {
  let node = tree;
  for (const part of path) node = isMapping(node) ? node[part] : undefined;
  return node;
}

function readConfigFile(file: string | undefined): Tree {
  if (!file) return {};
  if (!existsSync(file)) throw new BridgeError('CONFIG_INVALID', `config file ${file} does not exist`);
  const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
  if (parsed === null || parsed === undefined) return {};
  if (!isMapping(parsed))
    throw new BridgeError('CONFIG_INVALID', `config file ${file} is not a YAML mapping`);
  return parsed;
}

/**
 * Names under TSW_BRIDGE_ that are no key of this schema but are read all the same: the config
 * file's path, the container converter's own TSW_BRIDGE_CONTAINERS_<KEY> (src/containers/config.ts,
 * values JSON for lists and maps) and the variables secrets are read from, whose names the
 * config chooses (environment over file over default).
 */
function reservedNames(fromFile: Tree, env: NodeJS.ProcessEnv): string[] {
  const containers = ['config', ...Object.keys(ContainerConfigSchema.shape)].map((key) =>
    envName(CONTAINERS_PREFIX, [key]),
  );
  const defaults = ConfigSchema.parse({});
  const secrets = SECRET_NAME_KEYS.flatMap((path) => {
    const configured = env[envName(ENV_PREFIX, path)] || valueAt(fromFile, path);
    return [String(valueAt(defaults, path)), ...(typeof configured === 'string' ? [configured] : [])];
  });
  return [CONFIG_FILE_ENV, ...containers, ...secrets];
}

/** Where a schema issue lies, naming the variable that set the value when one did. */
function issueLine(path: readonly PropertyKey[], env: NodeJS.ProcessEnv, fromFlags: Tree): string {
  const dotted = path.map(String);
  const key = envKeys(ConfigSchema, ENV_PREFIX).find(
    (k) =>
      k.path.every((part, i) => dotted[i] === part) &&
      env[k.name] &&
      !Object.hasOwn(fromFlags, k.path[0] ?? ''),
  );
  return `config ${dotted.join('.')}${key ? ` (${key.name})` : ''}`;
}

/**
 * The effective configuration: the YAML file (`file`, else $TSW_BRIDGE_CONFIG), then
 * TSW_BRIDGE_<KEY PATH> variables (policy's configFromEnv: a name under TSW_BRIDGE_ that is
 * neither a key nor reserved is refused), then `flags` (top-level keys; undefined = not given).
 */
export function loadConfig(
  options: { file?: string; env?: NodeJS.ProcessEnv; flags?: Record<string, unknown> } = {},
): BridgeConfig {
  const env = options.env ?? process.env;
  const tree = readConfigFile(options.file ?? env[CONFIG_FILE_ENV]);
  try {
    configFromEnv(ConfigSchema, ENV_PREFIX, env, { reserved: reservedNames(tree, env), into: tree });
  } catch (error) {
    if (!(error instanceof EnvConfigError)) throw error;
    throw new BridgeError('CONFIG_INVALID', error.message);
  }
  const fromFlags = Object.fromEntries(
    Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined),
  );
  const result = ConfigSchema.safeParse({ ...tree, ...fromFlags });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new BridgeError(
      'CONFIG_INVALID',
      `${issueLine(issue?.path ?? [], env, fromFlags)}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return Object.freeze(result.data);
}

/** Every key an environment variable can set, by its dotted path (for --print-config). */
export function configEnvNames(): Record<string, string> {
  return Object.fromEntries(envKeys(ConfigSchema, ENV_PREFIX).map((k) => [k.path.join('.'), k.name]));
}
