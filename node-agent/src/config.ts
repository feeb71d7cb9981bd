// tsw-agent's one configuration schema: YAML file, then TSW_AGENT_* environment variables,
// then --set flags, parsed into a complete frozen object where every key has a default.
// Env (policy's env-config): TSW_AGENT_TRANSFER_UPLOAD_LIMIT_BYTES_PER_SECOND=1000000 sets
// transfer.uploadLimitBytesPerSecond; lists are comma-separated (TSW_AGENT_HOST_VO_TAGS=cms,atlas).

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pollConfigSchema, transferConfigSchema, trustConfigSchema } from '@trustswarm/fetch/transfer';
import { configFromEnv } from '@trustswarm/policy';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AgentError, errorMessage } from './errors.js';

export const configSchema = z
  .strictObject({
    site: z.string().min(1),
    layoutUrl: z.url(),
    dataDir: z.string().default('/var/lib/tsw-agent'),
    host: z
      .strictObject({
        name: z.string().default(hostname()),
        cluster: z.string().default(''),
        subcluster: z.string().default(''),
        voTags: z.array(z.string()).default([]),
        kinds: z.array(z.enum(['vm-image', 'repo-snapshot', 'container-image'])).default(['vm-image']),
      })
      .prefault({}),
    trust: trustConfigSchema.prefault({}),
    poll: pollConfigSchema.prefault({}),
    transfer: transferConfigSchema
      .extend({ maxParallelDownloads: z.number().int().min(1).default(2) })
      .prefault({}),
    lifecycle: z
      .strictObject({
        onRevoke: z.enum(['archive', 'remove']).default('archive'),
        graceSeconds: z.number().nonnegative().default(86400),
      })
      .prefault({}),
    hooks: z
      .strictObject({
        available: z.array(z.array(z.string()).min(1)).default([]),
        expiring: z.array(z.array(z.string()).min(1)).default([]),
        removed: z.array(z.array(z.string()).min(1)).default([]),
        timeoutSeconds: z.number().positive().default(300),
      })
      .prefault({}),
    api: z
      .strictObject({
        /** "127.0.0.1:PORT" or "unix:/path/to.sock" */
        listen: z.string().default('127.0.0.1:9731'),
      })
      .prefault({}),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
      .prefault({}),
  })
  .strict();

export type AgentConfig = Readonly<z.infer<typeof configSchema>>;

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Tree;
  }
  const last = path[path.length - 1];
  if (last) node[last] = value;
}

/** This program's environment prefix, and the variable naming its config file. */
export const ENV_PREFIX = 'TSW_AGENT';
export const CONFIG_FILE_ENV = 'TSW_AGENT_CONFIG';

/** Values are read as YAML scalars or flow lists, so numbers, booleans and [a, b] work. */
function parseValue(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; sets?: string[] }): AgentConfig {
  let tree: Tree = {};
  if (opts.file) {
    try {
      tree = (parseYaml(readFileSync(opts.file, 'utf8')) as Tree | null) ?? {};
    } catch (err) {
      throw new AgentError('CONFIG_INVALID', `${opts.file}: ${errorMessage(err)}`);
    }
  }
  try {
    configFromEnv(configSchema, ENV_PREFIX, opts.env ?? {}, { reserved: [CONFIG_FILE_ENV], into: tree });
  } catch (err) {
    throw new AgentError('CONFIG_INVALID', errorMessage(err));
  }
  for (const assignment of opts.sets ?? []) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new AgentError('CONFIG_INVALID', `--set ${assignment}: expected key.path=value`);
    setPath(tree, assignment.slice(0, eq).split('.'), parseValue(assignment.slice(eq + 1)));
  }
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AgentError('CONFIG_INVALID', `config ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return Object.freeze(result.data);
}

/** The transfer section alone (for `tsw-agent fetch`), from --set transfer.key=value flags. */
export function loadTransferConfig(sets: string[]): AgentConfig['transfer'] {
  const tree: Tree = {};
  for (const assignment of sets) {
    const eq = assignment.indexOf('=');
    const path = assignment.slice(0, eq).split('.');
    if (eq <= 0 || path[0] !== 'transfer') {
      throw new AgentError('CONFIG_INVALID', `--set ${assignment}: expected transfer.key=value`);
    }
    setPath(tree, path, parseValue(assignment.slice(eq + 1)));
  }
  const result = configSchema.shape.transfer.safeParse(tree.transfer ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AgentError('CONFIG_INVALID', `config transfer.${issue?.path.join('.')}: ${issue?.message}`);
  }
  return Object.freeze(result.data);
}
