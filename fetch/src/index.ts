// @trustswarm/fetch: the fetch-and-verify path shared by the node agent and the CVMFS bridge —
// read the static layout, verify the site's approval with policy/, select entries, download
// them over BitTorrent with the swarm limits, hash and install atomically.

export { type Fetched, LayoutClient, type LayoutClientConfig, sha256Hex } from './layout-client.js';
export { type HostProfile, isForHost, selectForHost } from './selection.js';
export { SiteSync, type SyncOutcome } from './site-sync.js';
// The download path, also importable alone as @trustswarm/fetch/transfer.
export * from './transfer-only.js';
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
