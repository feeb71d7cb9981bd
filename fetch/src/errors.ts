// The fetch path's error family: every failure a caller can branch on carries a stable code,
// and the message is one line a site admin can act on.

export type FetchErrorCode =
  | 'FETCH_FAILED'
  | 'FETCH_TIMEOUT'
  | 'FETCH_TOO_LARGE'
  | 'HASH_MISMATCH'
  | 'TORRENT_INVALID'
  | 'TORRENT_MISMATCH'
  | 'DISK_FULL'
  | 'TRANSFER_FAILED'
  | 'TRANSFER_CANCELLED'
  | 'STORE_FAILED'
  | 'VERIFY_FAILED';

export class FetchError extends Error {
  override name = 'FetchError';
  readonly code: FetchErrorCode;

  constructor(code: FetchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** ENOSPC / EDQUOT anywhere in the cause chain means the disk is full. */
export function isDiskFull(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    if (/ENOSPC|no space left/i.test(e.message)) return true;
  }
  return false;
}
