// Typed errors of the container-image converter: a stable `code` per failure so the run
// loop, the webhook worker and the CLI can react without parsing messages.

export type ContainerErrorCode =
  | 'BAD_REFERENCE'
  | 'REGISTRY_FAILED'
  | 'AUTH_FAILED'
  | 'NOT_FOUND'
  | 'DIGEST_MISMATCH'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNSUPPORTED'
  | 'PLATFORM_NOT_FOUND'
  | 'LAYER_UNSAFE'
  | 'LIMIT_EXCEEDED'
  | 'WISHLIST_INVALID'
  | 'WEBHOOK_UNAUTHORIZED'
  | 'WEBHOOK_INVALID'
  | 'CONFIG_INVALID'
  /** A public image path another source (wishlist or approved entry) owns. */
  | 'TAG_CONFLICT';

export class ContainerError extends Error {
  readonly code: ContainerErrorCode;

  constructor(code: ContainerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContainerError';
    this.code = code;
  }
}

export function isContainerError(error: unknown, code?: ContainerErrorCode): error is ContainerError {
  return error instanceof ContainerError && (code === undefined || error.code === code);
}

/** The first ContainerError in a cause chain (withTransaction wraps callback errors in ABORTED). */
export function containerCause(error: unknown): ContainerError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof ContainerError) return e;
  }
  return undefined;
}
