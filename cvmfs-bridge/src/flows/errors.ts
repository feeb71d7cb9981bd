// Errors of the bridge's flows, each with a stable code: a rejected message carries the
// code and the one-line message into the dead-letter queue or the reply.

export type FlowErrorCode =
  | 'MESSAGE_INVALID'
  | 'MESSAGE_TOO_LARGE'
  | 'UNKNOWN_BUCKET'
  | 'BAD_KEY'
  | 'OBJECT_TOO_LARGE'
  | 'NAME_INVALID'
  | 'NAME_TAKEN'
  | 'NO_REPLY_QUEUE'
  | 'KEYSTORE_FAILED'
  | 'S3_FAILED'
  | 'AMQP_FAILED'
  | 'CONFIG_INVALID'
  | 'STATE_FAILED';

export class FlowError extends Error {
  override name = 'FlowError';
  readonly code: FlowErrorCode;

  constructor(code: FlowErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The stable code of any error the flows meet (FlowError, BridgeError, FetchError …). */
export function errorCode(error: unknown, fallback = 'FAILED'): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : fallback;
}
