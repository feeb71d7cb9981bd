// The one configuration schema of tsw-catalog: every key has a default; YAML file, then
// TSW_CATALOG_* environment, then --dotted.key=value flags override it, and the result is frozen.
import { readFileSync } from 'node:fs';
import { configFromEnv, EnvConfigError, envName as programEnvName } from '@trustswarm/policy';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const MiB = 1024 * 1024;

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Base URL agents and endorsers see; used for announce URLs and links. */
      publicUrl: z.string().default('http://127.0.0.1:8080'),
      /** Largest JSON/YAML/DER request body accepted (artifact uploads are streamed, not limited by this). */
      bodyLimitBytes: z
        .number()
        .int()
        .positive()
        .default(4 * MiB),
      trustProxy: z.boolean().default(false),
    })
    .prefault({}),
  log: z.strictObject({ level: z.string().default('info') }).prefault({}),
  storage: z
    .strictObject({
      backend: z.enum(['sqlite', 'postgres']).default('sqlite'),
      sqlitePath: z.string().default('./data/catalog.db'),
      postgresUrl: z.string().default('postgres://postgres@127.0.0.1:5432/test'),
      /** PostgreSQL schema holding the tables (created if missing). */
      postgresSchema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]*$/)
        .default('tsw_catalog'),
    })
    .prefault({}),
  blobs: z
    .strictObject({
      backend: z.enum(['fs', 's3']).default('fs'),
      /** Blob root for 'fs'; local staging of resumable uploads for both backends. */
      directory: z.string().default('./data/blobs'),
      s3Endpoint: z.string().default(''),
      s3Region: z.string().default('us-east-1'),
      s3Bucket: z.string().default('trustswarm'),
      /** Key prefix inside the bucket, e.g. "catalog/". */
      s3Prefix: z.string().default(''),
      s3ForcePathStyle: z.boolean().default(true),
      /** Empty: the SDK's default credential chain (AWS_* env, profiles). */
      s3AccessKeyId: z.string().default(''),
      s3SecretAccessKey: z.string().default(''),
    })
    .prefault({}),
  trust: z
    .strictObject({
      /** CApath directory (<hash>.0 certificates, <hash>.r0 CRLs) of the CAs endorsers chain to. */
      caPath: z.string().default(''),
      /** Alternatively one PEM bundle of CA certificates (and CRLs). */
      bundleFile: z.string().default(''),
      maxDocumentBytes: z
        .number()
        .int()
        .positive()
        .default(4 * MiB),
      maxSignatureBytes: z
        .number()
        .int()
        .positive()
        .default(256 * 1024),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxTorrentBytes: z
        .number()
        .int()
        .positive()
        .default(16 * MiB),
      maxArtifactBytes: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024 * MiB),
      maxCatalogsListed: z.number().int().positive().default(1000),
      /** Largest site archive accepted by import (held in memory while it is checked). */
      maxImportBytes: z
        .number()
        .int()
        .positive()
        .default(256 * MiB),
    })
    .prefault({}),
  auth: z
    .strictObject({
      loginAttemptsPerMinute: z.number().int().positive().default(5),
      sessionTtlSeconds: z
        .number()
        .int()
        .positive()
        .default(12 * 3600),
      tokenDefaultTtlSeconds: z
        .number()
        .int()
        .positive()
        .default(30 * 86400),
      tokenMaxTtlSeconds: z
        .number()
        .int()
        .positive()
        .default(365 * 86400),
      /** Created at start when no user of that name exists (password from TSW_CATALOG_AUTH_BOOTSTRAP_ADMIN_PASSWORD). */
      bootstrapAdminName: z.string().default(''),
      bootstrapAdminPassword: z.string().default(''),
      /** OIDC login: the identity provider's issuer URL; empty disables OIDC. */
      oidcIssuer: z.string().default(''),
      /** JWKS of the issuer (its signing keys); default: <issuer>/.well-known/jwks.json. */
      oidcJwksUrl: z.string().default(''),
      /** The audience (client id) the ID token must carry. */
      oidcAudience: z.string().default(''),
      /** Claim naming the local account an ID token logs into. */
      oidcUsernameClaim: z.string().default('preferred_username'),
    })
    .prefault({}),
  origin: z
    .strictObject({
      maxConcurrentPerClient: z.number().int().positive().default(4),
      maxConcurrentTotal: z.number().int().positive().default(256),
      /** Per-client download rate in bytes/s; 0 = unlimited. */
      clientRateBytesPerSecond: z.number().int().min(0).default(0),
    })
    .prefault({}),
  /** BitTorrent seeding of stored artifacts by the server itself (fs blobs only). */
  seeder: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** TCP port for peer connections (on `server.host` when that is an IP address, else every
       * interface); 0 (default) picks a free one, announced to the tracker. */
      torrentPort: z.number().int().min(0).max(65535).default(0),
      /**
       * Peers uploaded to at once, per torrent (rotated by the cooperative choker). Each agent's
       * downlink is shared with the agents it trades with, so each origin flow gets a fraction
       * of it: with 4 slots the origin link ran at ~40 of 50 Mbit/s in the 16-agent swarm
       * benchmark, with 8 at ~46, and the round took 1.53 × S/B instead of 1.62–1.81 × (test/README,
       * session 10). Few enough that each piece the origin sends still completes soon.
       */
      uploadSlots: z.number().int().min(1).default(8),
      maxConnsPerTorrent: z.number().int().min(1).default(64),
      /** Total upload rate in bytes/s; 0 = unlimited. */
      uploadLimitBytesPerSecond: z.number().int().min(0).default(0),
      /**
       * Super-seeding (BEP 16): each peer is shown one piece at a time, least-shown first, so
       * the origin link carries pieces nobody has yet and agents trade the rest.
       */
      superSeed: z.boolean().default(true),
      /** Pieces shown at once to each peer while super-seeding (`@trustswarm/fetch` super-seed.ts). */
      superSeedPiecesPerPeer: z.number().int().min(1).max(16).default(1),
      /**
       * Read batching of the origin's peer connections (`@trustswarm/fetch` read-batching.ts):
       * how long a socket with a short read waits before reading again; 0 = never held.
       */
      readBatchMs: z.number().int().min(0).max(1000).default(100),
      /** How often stored torrents are checked for artifacts to start seeding. */
      scanIntervalSeconds: z.number().positive().default(10),
    })
    .prefault({}),
  tracker: z
    .strictObject({
      enabled: z.boolean().default(true),
      announceIntervalSeconds: z.number().int().positive().default(600),
      maxPeersPerTorrent: z.number().int().positive().default(10000),
    })
    .prefault({}),
  approval: z
    .strictObject({
      lifetimeSeconds: z
        .number()
        .int()
        .positive()
        .default(6 * 3600),
      renewBeforeSeconds: z
        .number()
        .int()
        .positive()
        .default(2 * 3600),
      checkIntervalSeconds: z.number().positive().default(60),
      /** How long a replica serves a site's approval from memory before re-reading storage. */
      cacheSeconds: z.number().min(0).default(2),
    })
    .prefault({}),
  static: z
    .strictObject({
      cacheMaxAgeSeconds: z.number().int().min(0).default(30),
      immutableMaxAgeSeconds: z.number().int().min(0).default(86400),
    })
    .prefault({}),
  upstream: z
    .strictObject({
      syncIntervalSeconds: z.number().positive().default(3600),
      fetchTimeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

type Tree = { [key: string]: unknown };

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every leaf path of the defaults, e.g. ['server', 'port']. */
function leafPaths(tree: Tree, prefix: string[] = []): string[][] {
  return Object.entries(tree).flatMap(([key, value]) =>
    isTree(value) ? leafPaths(value, [...prefix, key]) : [[...prefix, key]],
  );
}

/** This program's environment prefix (policy's env-config: TSW_<PROGRAM>_<KEY PATH>). */
export const ENV_PREFIX = 'TSW_CATALOG';

/** server.bodyLimitBytes → TSW_CATALOG_SERVER_BODY_LIMIT_BYTES */
export function envName(path: string[]): string {
  return programEnvName(ENV_PREFIX, path);
}

function coerce(raw: string, like: unknown, where: string): unknown {
  if (typeof like === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n))
      throw new ConfigError(`${where}: expected a number, got "${raw}"`);
    return n;
  }
  if (typeof like === 'boolean') {
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    throw new ConfigError(`${where}: expected true or false, got "${raw}"`);
  }
  return raw;
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isTree(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1] as string] = value;
}

function getPath(tree: Tree, path: string[]): unknown {
  let node: unknown = tree;
  for (const key of path) node = isTree(node) ? node[key] : undefined;
  return node;
}

export interface ConfigSources {
  file?: string;
  env?: Record<string, string | undefined>;
  /** "dotted.key" → raw string value */
  flags?: Record<string, string>;
  /** Already-typed overrides (tests). */
  overrides?: Tree;
}

function deepMerge(base: Tree, extra: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isTree(current) && isTree(value) ? deepMerge(current, value) : value;
  }
  return out;
}

export const defaultConfig: Config = configSchema.parse({});

export function loadConfig(sources: ConfigSources = {}): Readonly<Config> {
  let tree: Tree = {};
  if (sources.file) {
    let text: string;
    try {
      text = readFileSync(sources.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${sources.file}: ${(err as Error).message}`);
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && parsed !== undefined && !isTree(parsed)) {
      throw new ConfigError(`config file ${sources.file}: top level must be a mapping`);
    }
    tree = (parsed as Tree | null) ?? {};
  }
  try {
    configFromEnv(configSchema, ENV_PREFIX, sources.env ?? {}, { into: tree });
  } catch (err) {
    if (err instanceof EnvConfigError) throw new ConfigError(err.message);
    throw err;
  }
  for (const [dotted, raw] of Object.entries(sources.flags ?? {})) {
    const path = dotted.split('.');
    const like = getPath(defaultConfig as unknown as Tree, path);
    if (like === undefined || isTree(like)) throw new ConfigError(`unknown config key --${dotted}`);
    setPath(tree, path, coerce(raw, like, `--${dotted}`));
  }
  if (sources.overrides) tree = deepMerge(tree, sources.overrides);
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(`config ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (isTree(value)) for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}

/** Config keys with defaults and env names, for --print-config and the README. */
export function describeConfig(config: Config): { key: string; env: string; value: unknown }[] {
  return leafPaths(config as unknown as Tree).map((path) => ({
    key: path.join('.'),
    env: envName(path),
    value: getPath(config as unknown as Tree, path),
  }));
}
