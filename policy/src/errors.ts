// The one error family of the trust core: every rejection carries a stable code that
// callers (CLIs, daemons, tests) branch on, and a one-line message a person can act on.

export type TrustErrorCode =
  | 'PARSE_ERROR'
  | 'SCHEMA_INVALID'
  | 'DOCUMENT_TOO_LARGE'
  | 'SIGNATURE_MALFORMED'
  | 'SIGNATURE_INVALID'
  | 'DIGEST_MISMATCH'
  | 'UNSUPPORTED_ALGORITHM'
  | 'SIGNING_TIME_INVALID'
  | 'CERT_MALFORMED'
  | 'CERT_UNTRUSTED'
  | 'CERT_REVOKED'
  | 'CERT_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  | 'CRL_MISSING'
  | 'CRL_INVALID'
  | 'CRL_EXPIRED'
  | 'TRUST_ANCHORS_INVALID'
  | 'NOT_AUTHORISED_SIGNER'
  | 'THRESHOLD_NOT_MET'
  | 'SCOPE_DENIED'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'LIFETIME_TOO_LONG'
  | 'ROLLBACK'
  | 'EQUIVOCATION'
  | 'WRONG_SITE'
  | 'CATALOG_MISSING'
  | 'CATALOG_DIGEST_MISMATCH'
  | 'CATALOG_VERSION_MISMATCH'
  | 'ENTRY_MISSING'
  | 'ENTRY_HASH_MISMATCH'
  | 'NOT_APPROVED'
  | 'STATE_INVALID';

export interface Reason {
  code: TrustErrorCode;
  message: string;
}

export class TrustError extends Error {
  override name = 'TrustError';
  readonly code: TrustErrorCode;
  /** Which document the error is about, e.g. "catalog.yaml" or "approval.yaml.p7s". */
  readonly document: string | undefined;
  /** Further reasons when one rejection has several causes (e.g. every failing signature). */
  readonly reasons: Reason[];

  constructor(
    code: TrustErrorCode,
    message: string,
    options: { document?: string; reasons?: Reason[] } = {},
  ) {
    super(options.document ? `${options.document}: ${message}` : message);
    this.code = code;
    this.document = options.document;
    this.reasons = options.reasons ?? [{ code, message: this.message }];
  }

  toReason(): Reason {
    return { code: this.code, message: this.message };
  }
}

export function isTrustError(err: unknown): err is TrustError {
  return err instanceof TrustError;
}

/** Wraps a TrustError's reasons, or turns any other error into a single reason. */
export function reasonsOf(err: unknown, fallback: TrustErrorCode = 'SIGNATURE_INVALID'): Reason[] {
  if (err instanceof TrustError) return err.reasons;
  return [{ code: fallback, message: err instanceof Error ? err.message : String(err) }];
}
