// How the CLI talks: results as text or JSON on stdout, errors as one line on stderr.
import { isBridgeError } from '../errors.js';

export function emit(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(
    json ? `${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}\n` : `${text()}\n`,
  );
}

export function failLine(error: unknown): string {
  if (isBridgeError(error)) return `tsw-bridge: ${error.code}: ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return `tsw-bridge: ERROR: ${message.split('\n')[0]}`;
}
