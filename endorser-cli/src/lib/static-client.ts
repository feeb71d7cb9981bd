// GETs from the static distribution layout (no token): size-limited and with a timeout,
// so a bad mirror can neither hang the CLI nor fill memory.

import { CliError, messageOf } from './errors.js';

export async function fetchLimited(url: string, limitBytes: number, timeoutSeconds: number): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutSeconds * 1000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? messageOf(err);
    throw new CliError('SERVER_UNREACHABLE', `GET ${url}: ${cause}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new CliError('SERVER_REJECTED', `GET ${url}: ${res.status}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += chunk.length;
    if (total > limitBytes)
      throw new CliError('SERVER_REJECTED', `GET ${url}: more than ${limitBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
