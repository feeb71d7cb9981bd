// @trustswarm/fetch/transfer: only the download path — the BitTorrent engine, .torrent
// parsing, the atomic image store, the errors and the configuration schemas — without the
// layout client and policy/. `tsw-agent fetch` loads this alone: every module loaded costs
// resident memory for the whole run (README of node-agent, "Benchmark").

export { pollConfigSchema, transferConfigSchema, trustConfigSchema } from './config-schema.js';
export { errorMessage, FetchError, type FetchErrorCode, isDiskFull } from './errors.js';
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
