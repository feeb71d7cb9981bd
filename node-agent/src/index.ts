// Library surface of the node agent: the fetch-and-verify path (layout client, selection,
// transfer engine, store) that the CVMFS bridge will share, plus the daemon.

export { type AgentConfig, configSchema, loadConfig } from './config.js';
export { AgentDaemon, type AgentStatus } from './daemon.js';
export { AgentError, type AgentErrorCode } from './errors.js';
export { LayoutClient, sha256Hex } from './layout-client.js';
export { type HostProfile, isForHost, selectForHost } from './selection.js';
export { ImageStore, sha256File } from './store.js';
export {
  defaultTransferConfig,
  type TransferConfig,
  TransferEngine,
  type TransferStats,
} from './transfer/engine.js';
export { readTorrentInfo, type TorrentInfo } from './transfer/torrent-file.js';
export {
  type ApprovedEntry,
  PolicySiteVerifier,
  type SiteVerifier,
  type VerifiedSite,
} from './verify/site-verifier.js';
