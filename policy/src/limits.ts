// Limits of the verifier, each with a default; a daemon's Config overrides them.

import { DEFAULT_MAX_DOCUMENT_BYTES } from './strict-yaml.js';

export interface PolicyLimits {
  /** Largest accepted YAML document (default 16 MiB). */
  maxDocumentBytes: number;
  /** Longest accepted catalog lifetime, expires − issued (default 180 days). */
  maxCatalogLifetimeSeconds: number;
  /** Longest accepted approval lifetime (default 48 hours): approvals are short-lived. */
  maxApprovalLifetimeSeconds: number;
}

export const DEFAULT_LIMITS: Readonly<PolicyLimits> = Object.freeze({
  maxDocumentBytes: DEFAULT_MAX_DOCUMENT_BYTES,
  maxCatalogLifetimeSeconds: 180 * 24 * 3600,
  maxApprovalLifetimeSeconds: 48 * 3600,
});

export function withDefaults(limits: Partial<PolicyLimits> | undefined): PolicyLimits {
  return { ...DEFAULT_LIMITS, ...limits };
}
