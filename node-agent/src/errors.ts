// The agent's own error family (configuration, state, hooks, control API); failures of the
// fetch path come from @trustswarm/fetch as FetchError. Both carry a stable code.

import { FetchError } from '@trustswarm/fetch/transfer';

export { errorMessage } from '@trustswarm/fetch/transfer';

export type AgentErrorCode = 'CONFIG_INVALID' | 'STATE_INVALID' | 'HOOK_FAILED' | 'FETCH_FAILED';

export class AgentError extends Error {
  override name = 'AgentError';
  readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The stable code of an agent or fetch error, else `fallback`. */
export function errorCode(err: unknown, fallback: string): string {
  return err instanceof AgentError || err instanceof FetchError ? err.code : fallback;
}
