// Public API of @trustswarm/cvmfs-bridge: write CernVM-FS repositories natively and read
// them back with the stock client's checks.

export { CvmfsServerPublisher } from './backend/cvmfs-server.js';
export { NativePublisher } from './backend/native.js';
export type { Publisher, PublishRequest, PublishSource, PublishSummary } from './backend/publisher.js';
export type { Dirent } from './catalog/dirent.js';
export { type BridgeConfig, loadConfig } from './config.js';
export { BridgeError, type BridgeErrorCode, isBridgeError } from './errors.js';
export { type Fetcher, HttpFetcher, LocalFetcher } from './reader/fetcher.js';
export { RepositoryReader } from './reader/reader.js';
export { type VerifyReport, verifyRevision } from './reader/verify-all.js';
export { changeTags, listTags, resignWhitelist } from './repo/admin.js';
export { collectGarbage, type GcReport } from './repo/gc.js';
export { DEFAULT_REPO_SETTINGS, type RepoSettings, Repository } from './repo/repository.js';
export { importDirectory } from './writer/import-dir.js';
export { importTar } from './writer/import-tar.js';
export { PUBLISH_STEPS, type PublishOptions, type PublishResult, withTransaction } from './writer/publish.js';
export { type EntryMeta, makeDev, type SpecialType, type Transaction } from './writer/transaction.js';
