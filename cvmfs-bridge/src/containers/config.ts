// Configuration of the container-image converter: one schema with a default for every key,
// filled from a YAML file, then TSW_BRIDGE_CONTAINERS_* environment variables, then flags.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ContainerError } from './errors.js';

const GiB = 1024 ** 3;

// The words policy's configFromEnv reads as booleans (so "false" in YAML or in
// TSW_BRIDGE_CONTAINERS_* is false, not a non-empty string coerced to true); anything else is refused.
const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = {
  true: true,
  '1': true,
  yes: true,
  false: false,
  '0': false,
  no: false,
};
const flag = z.preprocess(
  (value) =>
    typeof value === 'string' && Object.hasOwn(BOOLEAN_WORDS, value) ? BOOLEAN_WORDS[value] : value,
  z.boolean({ error: (issue) => `expected true or false, got ${JSON.stringify(issue.input)}` }),
);

export const ContainerConfigSchema = z
  .object({
    /** Repository path under which images are laid out (DUCC uses the root). */
    basePath: z.string().default('/'),
    /** Platforms taken from manifest lists / indexes, os/arch[/variant]. */
    platforms: z
      .array(z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/))
      .min(1)
      .default(['linux/amd64']),
    /** Registry hosts (host or host:port) spoken to over plain HTTP. */
    insecureRegistries: z.array(z.string()).default(['127.0.0.1', 'localhost']),
    /** Credentials per registry host, used for Basic auth and to obtain bearer tokens. */
    registryCredentials: z
      .record(z.string(), z.object({ username: z.string(), password: z.string() }))
      .default({}),
    requestTimeoutSeconds: z.coerce.number().positive().default(60),
    maxManifestBytes: z.coerce
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),
    maxConfigBytes: z.coerce
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024),
    maxLayers: z.coerce.number().int().positive().default(256),
    maxLayerBytes: z.coerce
      .number()
      .int()
      .positive()
      .default(8 * GiB),
    maxLayerUncompressedBytes: z.coerce
      .number()
      .int()
      .positive()
      .default(16 * GiB),
    maxImageUncompressedBytes: z.coerce
      .number()
      .int()
      .positive()
      .default(32 * GiB),
    maxLayerEntries: z.coerce.number().int().positive().default(1_000_000),
    maxPathBytes: z.coerce.number().int().positive().default(4096),
    /** setuid/setgid bits in layers: strip them (default), keep them, or refuse the layer. */
    setuidPolicy: z.enum(['strip', 'keep', 'reject']).default('strip'),
    /** Character/block devices and sockets in layers: skip them (default) or refuse the layer. */
    devicePolicy: z.enum(['skip', 'reject']).default('skip'),
    /** Layers converted concurrently within one image. */
    layerConcurrency: z.coerce.number().int().min(1).max(16).default(2),
    /** Also write a podman additional image store under podmanStore/. */
    podmanStore: flag.default(false),
    gcGraceSeconds: z.coerce.number().int().min(0).default(86_400),
    webhookHost: z.string().default('127.0.0.1'),
    webhookPort: z.coerce.number().int().min(0).max(65_535).default(8081),
    /** Shared secret webhooks must present (Authorization: Bearer SECRET or the bare secret). */
    webhookToken: z.string().default(''),
    webhookTokenFile: z.string().default(''),
    /** Wishlist files whose images webhook events may update, and that `reconcile` applies. */
    wishlists: z.array(z.string()).default([]),
    reconcileIntervalSeconds: z.coerce.number().min(0).default(3600),
    outboxMaxAttempts: z.coerce.number().int().min(1).default(10),
  })
  .strict();

export type ContainerConfig = Readonly<z.infer<typeof ContainerConfigSchema>>;

const ENV_PREFIX = 'TSW_BRIDGE_CONTAINERS_';
const envKey = (key: string) => ENV_PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

export function defaultContainerConfig(overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  return loadContainerConfig({ env: {}, flags: overrides });
}

export function loadContainerConfig(
  options: { file?: string; env?: NodeJS.ProcessEnv; flags?: Record<string, unknown> } = {},
): ContainerConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env.TSW_BRIDGE_CONTAINERS_CONFIG;
  let fromFile: Record<string, unknown> = {};
  if (file) {
    if (!existsSync(file)) throw new ContainerError('CONFIG_INVALID', `config file ${file} does not exist`);
    const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
    if (parsed !== null && typeof parsed !== 'object')
      throw new ContainerError('CONFIG_INVALID', `config file ${file} is not a YAML mapping`);
    fromFile = (parsed ?? {}) as Record<string, unknown>;
  }
  const fromEnv: Record<string, unknown> = {};
  for (const key of Object.keys(ContainerConfigSchema.shape)) {
    const value = env[envKey(key)];
    if (value === undefined) continue;
    fromEnv[key] = value.startsWith('[') || value.startsWith('{') ? JSON.parse(value) : value;
  }
  const fromFlags = Object.fromEntries(
    Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined),
  );
  const result = ContainerConfigSchema.safeParse({ ...fromFile, ...fromEnv, ...fromFlags });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ContainerError(
      'CONFIG_INVALID',
      `containers config ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return Object.freeze(result.data);
}

/** The webhook secret: the file wins over the inline value; empty means "not configured". */
export function webhookSecret(config: ContainerConfig): string {
  if (config.webhookTokenFile) return readFileSync(config.webhookTokenFile, 'utf8').trim();
  return config.webhookToken;
}
