// Time checks of a signed document: issued not in the future, not expired, and a lifetime
// no longer than the verifier allows (a long-lived approval would allow freeze attacks).

import { TrustError } from './errors.js';

export const CLOCK_SKEW_MS = 5 * 60_000;

export function requireFresh(
  doc: { issued: string; expires: string },
  now: Date,
  maxLifetimeSeconds: number,
  document: string,
): void {
  const issued = Date.parse(doc.issued);
  const expires = Date.parse(doc.expires);
  if (expires <= issued) throw new TrustError('SCHEMA_INVALID', 'expires must be after issued', { document });
  if (issued > now.getTime() + CLOCK_SKEW_MS) {
    throw new TrustError('NOT_YET_VALID', `issued ${doc.issued} is in the future`, { document });
  }
  if (expires <= now.getTime()) throw new TrustError('EXPIRED', `expired at ${doc.expires}`, { document });
  const lifetimeSeconds = (expires - issued) / 1000;
  if (lifetimeSeconds > maxLifetimeSeconds) {
    throw new TrustError(
      'LIFETIME_TOO_LONG',
      `lifetime of ${Math.round(lifetimeSeconds)} s exceeds the allowed ${maxLifetimeSeconds} s`,
      { document },
    );
  }
}
