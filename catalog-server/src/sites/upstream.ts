// Upstream trust lists: a site subscribes to a signed TrustList at a URL (signature at URL + ".p7s",
// from one pinned signer). A list is applied only when its signature, signer, schema, freshness and
// version all check out; otherwise nothing changes and the error is recorded for the admin to see.
import { reasonsOf, type TrustList, verifyTrustList } from '@trustswarm/policy';
import { appendAudit } from '../audit/chain.js';
import type { Services } from '../services.js';
import {
  allSubscriptions,
  replaceUpstreamEndorsers,
  type SubscriptionRecord,
  saveSubscription,
  subscriptionOf,
} from '../storage/site-repo.js';
import { keyOfDns } from './trust.js';

export class UpstreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function fetchBytes(url: string, timeoutMs: number, maxBytes: number): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    throw new UpstreamError('FETCH_FAILED', `${url}: ${(err as Error).message}`);
  }
  if (!response.ok) throw new UpstreamError('FETCH_FAILED', `${url}: HTTP ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes)
    throw new UpstreamError('DOCUMENT_TOO_LARGE', `${url}: ${declared} bytes > ${maxBytes}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length > maxBytes)
    throw new UpstreamError('DOCUMENT_TOO_LARGE', `${url}: ${bytes.length} bytes > ${maxBytes}`);
  return bytes;
}

function checkTrustList(
  services: Services,
  sub: SubscriptionRecord,
  bytes: Buffer,
  signature: Buffer,
): TrustList {
  if (!services.anchors) throw new UpstreamError('TRUST_ANCHORS_MISSING', 'no trust anchors configured');
  let list: TrustList;
  try {
    list = verifyTrustList(
      { bytes, signature },
      {
        anchors: services.anchors,
        now: services.clock(),
        publishers: [{ issuer: sub.signerIssuer, subject: sub.signerSubject }],
        limits: { maxDocumentBytes: services.config.trust.maxDocumentBytes },
      },
    ).trustList;
  } catch (err) {
    const reason = reasonsOf(err)[0];
    throw new UpstreamError(reason?.code ?? 'SIGNATURE_INVALID', reason?.message ?? String(err));
  }
  if (sub.lastVersion !== null && list.version < sub.lastVersion)
    throw new UpstreamError(
      'ROLLBACK',
      `trust list version ${list.version} is older than the applied ${sub.lastVersion}`,
    );
  return list;
}

/** One sync attempt; returns the updated subscription (status ok or error). Never throws for upstream faults. */
export async function syncSubscription(
  services: Services,
  site: string,
): Promise<SubscriptionRecord | undefined> {
  const { db, clock, config } = services;
  const sub = await subscriptionOf(db, site);
  if (!sub) return undefined;
  const attemptAt = clock().getTime();
  try {
    const max = config.trust.maxDocumentBytes;
    const bytes = await fetchBytes(sub.url, config.upstream.fetchTimeoutMs, max);
    const signature = await fetchBytes(
      `${sub.url}.p7s`,
      config.upstream.fetchTimeoutMs,
      config.trust.maxSignatureBytes,
    );
    const list = checkTrustList(services, sub, bytes, signature);
    const endorsers = list.endorsers.map((rule) => ({
      site,
      identityKey: keyOfDns(rule.issuer, rule.subject),
      origin: 'upstream' as const,
      issuer: rule.issuer,
      subject: rule.subject,
      scope: rule.scope ?? {},
    }));
    const updated: SubscriptionRecord = {
      ...sub,
      status: 'ok',
      lastAttemptAt: attemptAt,
      lastSuccessAt: attemptAt,
      lastError: null,
      lastVersion: list.version,
    };
    await db.transaction(async (tx) => {
      await replaceUpstreamEndorsers(tx, site, endorsers);
      await saveSubscription(tx, updated);
      if (list.version !== sub.lastVersion) {
        await appendAudit(
          db,
          tx,
          {
            actor: 'upstream-sync',
            action: 'site.upstream.apply',
            target: `site:${site}`,
            detail: { url: sub.url, version: list.version, endorsers: endorsers.length },
          },
          clock(),
        );
      }
    });
    services.events.emit('site-changed', site);
    return updated;
  } catch (err) {
    const code = err instanceof UpstreamError ? err.code : 'SYNC_FAILED';
    const failed: SubscriptionRecord = {
      ...sub,
      status: 'error',
      lastAttemptAt: attemptAt,
      lastError: `${code}: ${(err as Error).message}`,
    };
    await saveSubscription(db, failed);
    services.logger.warn({ site, err: failed.lastError }, 'upstream trust list not applied');
    return failed;
  }
}

export function startUpstreamScheduler(services: Services): () => void {
  const intervalMs = services.config.upstream.syncIntervalSeconds * 1000;
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      for (const site of await allSubscriptions(services.db)) {
        const sub = await subscriptionOf(services.db, site);
        if (
          sub &&
          (sub.lastAttemptAt === null || services.clock().getTime() - sub.lastAttemptAt >= intervalMs)
        )
          await syncSubscription(services, site);
      }
    } catch (err) {
      services.logger.error({ err }, 'upstream sync loop failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), Math.min(intervalMs, 60_000));
  timer.unref();
  return () => clearInterval(timer);
}
