// The CLI's one error family: a stable `code` that tests and scripts branch on, and the exit
// status it maps to (documented in README.md "Exit codes").

export type CliErrorCode =
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'NOT_FOUND'
  | 'IO_ERROR'
  | 'WORKSPACE_INVALID'
  | 'CATALOG_EXISTS'
  | 'CATALOG_INVALID'
  | 'DUPLICATE_ENTRY'
  | 'ENTRY_NOT_FOUND'
  | 'ARTIFACT_UNREADABLE'
  | 'ARTIFACT_CHANGED'
  | 'IDENTITY_MISSING'
  | 'IDENTITY_INVALID'
  | 'PASSPHRASE_REQUIRED'
  | 'PASSPHRASE_WRONG'
  | 'CERT_NOT_VALID'
  | 'NOT_SIGNED'
  | 'VERIFY_FAILED'
  | 'HEPIX_SIGNATURE_INVALID'
  | 'HEPIX_INVALID'
  | 'SERVER_UNREACHABLE'
  | 'SERVER_REJECTED'
  | 'REGISTRY_UNREACHABLE'
  | 'REGISTRY_REJECTED'
  | 'DIGEST_MISMATCH';

/** Exit statuses: 1 bad input or state, 2 usage, 3 verification failed, 4 identity, 5 network. */
export const EXIT = { ok: 0, failure: 1, usage: 2, verification: 3, identity: 4, network: 5 } as const;

const exitByCode: Partial<Record<CliErrorCode, number>> = {
  USAGE: EXIT.usage,
  CONFIG_INVALID: EXIT.usage,
  VERIFY_FAILED: EXIT.verification,
  HEPIX_SIGNATURE_INVALID: EXIT.verification,
  DIGEST_MISMATCH: EXIT.verification,
  IDENTITY_MISSING: EXIT.identity,
  IDENTITY_INVALID: EXIT.identity,
  PASSPHRASE_REQUIRED: EXIT.identity,
  PASSPHRASE_WRONG: EXIT.identity,
  CERT_NOT_VALID: EXIT.identity,
  SERVER_UNREACHABLE: EXIT.network,
  SERVER_REJECTED: EXIT.network,
  REGISTRY_UNREACHABLE: EXIT.network,
  REGISTRY_REJECTED: EXIT.network,
};

export class CliError extends Error {
  override name = 'CliError';
  readonly code: CliErrorCode;
  readonly exitCode: number;
  /** Further causes (e.g. each failed check), shown with --json and under the main line. */
  readonly details: string[];

  constructor(code: CliErrorCode, message: string, details: string[] = []) {
    super(message);
    this.code = code;
    this.exitCode = exitByCode[code] ?? EXIT.failure;
    this.details = details;
  }
}

/** The message of any thrown value, for wrapping into a CliError. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Node's fs errors → NOT_FOUND / IO_ERROR naming the path. */
export function fsError(err: unknown, what: string): CliError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new CliError('NOT_FOUND', `${what}: no such file or directory`);
  if (code === 'EACCES' || code === 'EPERM') return new CliError('IO_ERROR', `${what}: permission denied`);
  if (code === 'EISDIR') return new CliError('IO_ERROR', `${what}: is a directory`);
  return new CliError('IO_ERROR', `${what}: ${messageOf(err)}`);
}
