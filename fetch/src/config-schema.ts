// The configuration sections every follower of a site's approval shares (tsw-agent and
// tsw-bridge run): trust anchors, polling limits and the BitTorrent transfer. One schema, so
// the two daemons cannot drift apart; each embeds them in its own config (with `.prefault({})`).

import { z } from 'zod';

const MiB = 1024 * 1024;

export const trustConfigSchema = z.strictObject({
  /** CApath layout (<hash>.0 certificates, <hash>.r0 CRLs), re-read on every poll */
  caPath: z.string().default('/etc/grid-security/certificates'),
  /** 'require': every certificate needs a current CRL from its issuer */
  crlPolicy: z.enum(['require', 'if-present']).default('require'),
  /** who may sign this site's approval (issuer + subject DNs) */
  siteSigners: z.array(z.strictObject({ issuer: z.string().min(1), subject: z.string().min(1) })).default([]),
});

export const pollConfigSchema = z.strictObject({
  intervalSeconds: z.number().positive().default(300),
  timeoutSeconds: z.number().positive().default(30),
  retrySeconds: z.number().positive().default(60),
  maxApprovalBytes: z
    .number()
    .int()
    .positive()
    .default(1 * MiB),
  maxCatalogBytes: z
    .number()
    .int()
    .positive()
    .default(16 * MiB),
  maxSignatureBytes: z
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  maxTorrentBytes: z
    .number()
    .int()
    .positive()
    .default(8 * MiB),
  maxSignaturesPerCatalog: z.number().int().positive().default(16),
});

export const transferConfigSchema = z.strictObject({
  torrentPort: z.number().int().min(0).max(65535).default(6881),
  /** this host's address to accept peers (and DHT messages) on; '' = every interface */
  listenAddress: z.union([z.literal(''), z.ipv4(), z.ipv6()]).default(''),
  maxConnsPerTorrent: z.number().int().min(1).default(10),
  uploadSlots: z.number().int().min(1).default(5),
  /** most peers feeding a download at once (source-limits.ts); unset: uploadSlots + 1; 0: no cap */
  maxSources: z.number().int().min(0).optional(),
  uploadLimitBytesPerSecond: z.number().int().nonnegative().default(0),
  downloadLimitBytesPerSecond: z.number().int().nonnegative().default(0),
  tracker: z.boolean().default(true),
  pex: z.boolean().default(true),
  dht: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** site DHT nodes as host:port; never public routers */
      bootstrap: z
        .array(
          z
            .string()
            .regex(
              /^[A-Za-z0-9.-]+:([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$/,
              'expected host:port',
            ),
        )
        .default([]),
      port: z.number().int().min(0).max(65535).default(6881),
    })
    .prefault({}),
  webSeed: z
    .strictObject({
      enabled: z.boolean().default(true),
      delaySeconds: z.number().nonnegative().default(300),
      noPeerGraceSeconds: z.number().nonnegative().default(30),
    })
    .prefault({}),
  /** pieces a peer is proven to have corrupted before it is banned */
  strikesToBan: z.number().int().min(1).default(1),
  resumeSaveIntervalMs: z.number().int().positive().default(1000),
  encryption: z.enum(['off', 'prefer', 'require']).default('off'),
  pieceCacheSlots: z.number().int().min(0).max(64).default(4),
  /** block requests in flight per peer (16 KiB each) */
  maxRequestsPerPeer: z.number().int().min(1).default(256),
  /**
   * who gets the upload slots: `cooperative` (fewest pieces first, rotated; choker.ts) or
   * webtorrent's `tit-for-tat` (kept for comparison in the swarm benchmark)
   */
  choker: z.enum(['cooperative', 'tit-for-tat']).default('cooperative'),
  /**
   * after a short socket read (< 32 KiB: a link slower than the host), the socket reads again
   * at most this many ms later, taking what arrived meanwhile in one read (read-batching.ts);
   * 0 reads every segment as it comes
   */
  readBatchMs: z.number().int().min(0).max(1000).default(100),
  /**
   * block data buffered in user space for one peer before reading more blocks for it waits
   * (socket-output.ts); our requests and other messages to that peer queue behind it
   */
  sendBufferBytes: z
    .number()
    .int()
    .min(16 * 1024)
    .max(64 * MiB)
    .default(1 * MiB),
});
