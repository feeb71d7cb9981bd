// @trustswarm/fetch: the fetch-and-verify path shared by the node agent and the CVMFS bridge —
// read the static layout, verify the site's approval with policy/, select entries, download
// them over BitTorrent with the swarm limits, hash and install atomically.

export { pollConfigSchema, transferConfigSchema, trustConfigSchema } from './config-schema.js';
export { errorMessage, FetchError, type FetchErrorCode, isDiskFull } from './errors.js';
export { type Fetched, LayoutClient, type LayoutClientConfig, sha256Hex } from './layout-client.js';
export { type HostProfile, isForHost, selectForHost } from './selection.js';
export { SiteSync, type SyncOutcome } from './site-sync.js';
export { ImageStore, sha256File } from './store.js';
export {
  type DownloadJob,
  type DownloadResult,
  defaultTransferConfig,
  type TransferConfig,
  TransferEngine,
  type TransferEvents,
  type TransferStats,
} from './transfer/engine.js';
export type { BanEvent } from './transfer/peer-bans.js';
export { countSetBits, RESUME_FILE } from './transfer/resume.js';
export type { SuperSeedOptions } from './transfer/super-seed.js';
export { readTorrentInfo, type TorrentInfo } from './transfer/torrent-file.js';
export {
  type ApprovedEntry,
  type CatalogRef,
  PolicySiteVerifier,
  type RefusedEntry,
  type SignedApproval,
  type SignedCatalog,
  type SiteVerifier,
  type VerifiedSite,
  type VerifierConfig,
} from './verify/site-verifier.js';
