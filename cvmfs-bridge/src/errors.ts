// Typed errors for the bridge: every failure carries a stable `code` so CLIs and callers can
// react without parsing messages; the CLI prints `code: message` on one line.

export type BridgeErrorCode =
  | 'BAD_INPUT'
  | 'BAD_PATH'
  | 'NOT_FOUND'
  | 'EXISTS'
  | 'REPO_LOCKED'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_SIGNATURE_INVALID'
  | 'CERTIFICATE_INVALID'
  | 'WHITELIST_INVALID'
  | 'WHITELIST_EXPIRED'
  | 'WHITELIST_SIGNATURE_INVALID'
  | 'CERTIFICATE_NOT_WHITELISTED'
  | 'HASH_MISMATCH'
  | 'CATALOG_INVALID'
  | 'ROLLBACK'
  | 'FETCH_FAILED'
  | 'BACKEND_FAILED'
  | 'CONFIG_INVALID'
  | 'ABORTED';

export class BridgeError extends Error {
  readonly code: BridgeErrorCode;

  constructor(code: BridgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BridgeError';
    this.code = code;
  }
}

export function isBridgeError(error: unknown, code?: BridgeErrorCode): error is BridgeError {
  return error instanceof BridgeError && (code === undefined || error.code === code);
}
