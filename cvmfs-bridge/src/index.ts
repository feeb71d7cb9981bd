// Public API of @trustswarm/cvmfs-bridge: write CernVM-FS repositories natively and read
// them back with the stock client's checks.

export type { Dirent } from './catalog/dirent.js';
export { BridgeError, type BridgeErrorCode, isBridgeError } from './errors.js';
export { DEFAULT_REPO_SETTINGS, type RepoSettings, Repository } from './repo/repository.js';
export { PUBLISH_STEPS, type PublishOptions, type PublishResult, withTransaction } from './writer/publish.js';
export type { EntryMeta, SpecialType, Transaction } from './writer/transaction.js';
