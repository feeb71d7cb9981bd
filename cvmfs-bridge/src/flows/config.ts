// Configuration of `tsw-bridge run`: one section per flow (approved content, S3 buckets,
// repository requests) plus the shared RabbitMQ, key store and HTTP status settings.
// Every key has a default; a flow runs only when its section says `enabled: true`.
import { pollConfigSchema, transferConfigSchema, trustConfigSchema } from '@trustswarm/fetch';
import { z } from 'zod';

const MiB = 1024 * 1024;

export const AmqpSchema = z
  .strictObject({
    /** amqp://user:pass@host:port/vhost */
    url: z.string().min(1).default('amqp://guest:guest@127.0.0.1:5672'),
    reconnectInitialMs: z.number().int().positive().default(500),
    reconnectMaxMs: z.number().int().positive().default(10_000),
    heartbeatSeconds: z.number().int().min(0).default(15),
  })
  .prefault({});

export const BucketMappingSchema = z.strictObject({
  bucket: z.string().min(3).max(63),
  repository: z.string().min(3),
  /** Only keys under this prefix are published, at the same relative path. */
  prefix: z.string().default('cvmfs/'),
  /** Repository path the prefix maps to. */
  path: z.string().default('/'),
});

export const S3FlowSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    endpoint: z.string().default('http://127.0.0.1:7480'),
    region: z.string().default('us-east-1'),
    accessKeyId: z.string().default(''),
    secretAccessKey: z.string().default(''),
    forcePathStyle: z.boolean().default(true),
    /**
     * PEM bundle of the CAs that may vouch for an https:// endpoint, instead of the default
     * store (read at start-up); empty: Node's default CAs.
     */
    caFile: z.string().default(''),
    /** Durable topic exchange RGW publishes to, and the queue the bridge consumes. */
    exchange: z.string().min(1).default('tsw.s3-events'),
    routingKey: z.string().min(1).default('#'),
    queue: z.string().min(1).default('tsw.bridge.s3-events'),
    deadLetterQueue: z.string().min(1).default('tsw.bridge.s3-events.dead'),
    buckets: z.array(BucketMappingSchema).default([]),
    /** raw (Ceph RGW), url (AWS, MinIO) or auto (by eventSource: ceph → raw, else url). */
    keyEncoding: z.enum(['auto', 'raw', 'url']).default('auto'),
    /** A batch is published this long after its first event, or when it is full. */
    batchDelayMs: z.number().int().min(0).default(1000),
    batchMaxEvents: z.number().int().min(1).default(2000),
    prefetch: z.number().int().min(1).max(65_535).default(4000),
    downloadConcurrency: z.number().int().min(1).max(256).default(32),
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(1 * MiB),
    maxRecordsPerMessage: z.number().int().positive().default(1000),
    maxObjectBytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 * MiB),
    maxKeyBytes: z.number().int().positive().default(1024),
    /** ListObjectsV2 reconciliation period; 0 disables it. */
    reconcileIntervalSeconds: z.number().min(0).default(300),
    /** Waits this long between staging a batch and publishing it (tests of a crash there). */
    pauseBeforePublishMs: z.number().int().min(0).default(0),
  })
  .prefault({});

export const RequestsFlowSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    queue: z.string().min(1).default('tsw.bridge.repo-requests'),
    deadLetterQueue: z.string().min(1).default('tsw.bridge.repo-requests.dead'),
    /** Names must end with one of these domains (e.g. "example.org"); empty: any FQRN. */
    allowedDomains: z.array(z.string().min(1)).default([]),
    maxOwners: z.number().int().min(1).default(64),
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024),
  })
  .prefault({});

export const ApprovedFlowSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    site: z.string().default(''),
    layoutUrl: z.string().default(''),
    /** Repositories approved entries may publish into; empty: any existing repository. */
    repositories: z.array(z.string()).default([]),
    /** What happens to a published path once its entry is no longer approved. */
    onRevoke: z.enum(['remove', 'keep']).default('remove'),
    /** Converter settings for container-image entries (a `--containers-config` file); empty: defaults. */
    containersConfig: z.string().default(''),
    /**
     * How often the trees no published image references any more (revoked entries, moved
     * tags) are collected, after the containers config's gcGraceSeconds, in the repositories
     * this flow put images into; 0: never (then `tsw-bridge container gc` by hand or cron).
     */
    containerGcIntervalSeconds: z.number().int().min(0).default(3600),
    trust: trustConfigSchema.prefault({}),
    poll: pollConfigSchema.prefault({}),
    transfer: transferConfigSchema.prefault({}),
  })
  .prefault({});

export const KeyStoreSchema = z
  .strictObject({
    backend: z.enum(['file', 'vault']).default('file'),
    /** file backend: directory of encrypted key files (default stateDir/keystore). */
    directory: z.string().default(''),
    /** file backend: passphrase file, or the environment variable holding it. */
    passphraseFile: z.string().default(''),
    passphraseEnv: z.string().default('TSW_BRIDGE_KEYSTORE_PASSPHRASE'),
    vault: z
      .strictObject({
        address: z.string().default('http://127.0.0.1:8200'),
        mount: z.string().default('secret'),
        pathPrefix: z.string().default('tsw-bridge/repositories'),
        tokenFile: z.string().default(''),
        tokenEnv: z.string().default('VAULT_TOKEN'),
        namespace: z.string().default(''),
        timeoutSeconds: z.number().positive().default(10),
      })
      .prefault({}),
  })
  .prefault({});

export const HttpSchema = z
  .strictObject({
    /** host:port for /status and /metrics; empty disables the endpoint. */
    listen: z.string().default(''),
  })
  .prefault({});

/** The sections `run` adds to the bridge's config (merged into its one schema). */
export const flowConfigShape = {
  amqp: AmqpSchema,
  s3: S3FlowSchema,
  requests: RequestsFlowSchema,
  approved: ApprovedFlowSchema,
  keyStore: KeyStoreSchema,
  http: HttpSchema,
};

export type AmqpConfig = z.infer<typeof AmqpSchema>;
export type S3FlowConfig = z.infer<typeof S3FlowSchema>;
export type BucketMapping = z.infer<typeof BucketMappingSchema>;
export type RequestsFlowConfig = z.infer<typeof RequestsFlowSchema>;
export type ApprovedFlowConfig = z.infer<typeof ApprovedFlowSchema>;
export type KeyStoreConfig = z.infer<typeof KeyStoreSchema>;
export type HttpConfig = z.infer<typeof HttpSchema>;
