// Keeps each site's signed Approval current: re-signs when what it says changed or when it would
// expire within renewBeforeSeconds. Versions come from storage (max + 1, unique per site), so they
// rise across restarts and replicas.
import { type Approval, serializeDocument, signDetached } from '@trustswarm/policy';
import type { Services } from '../services.js';
import {
  type ApprovalDocRecord,
  insertApprovalDoc,
  latestApprovalDoc,
  listSites,
  pruneApprovalDocs,
  type SiteRecord,
  siteByName,
} from '../storage/site-repo.js';
import { buildApprovalContent } from './approval-builder.js';

const keptVersions = 50;

/** RFC 3339 at whole seconds, as the document schema expects. */
const isoSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export type SignOutcome =
  | { status: 'current'; doc: ApprovalDocRecord }
  | { status: 'signed'; doc: ApprovalDocRecord }
  | { status: 'no-signer' }
  | { status: 'no-site' };

export async function ensureApprovalSigned(
  services: Services,
  siteName: string,
  options: { force?: boolean } = {},
): Promise<SignOutcome> {
  const { db, clock, config } = services;
  const site = await siteByName(db, siteName);
  if (!site) return { status: 'no-site' };
  if (!site.signerCertPem || !site.signerKeyPem) return { status: 'no-signer' };
  const content = await buildApprovalContent(services, site);
  const now = clock().getTime();
  const latest = await latestApprovalDoc(db, siteName);
  const fresh = latest && latest.expiresAt - now > config.approval.renewBeforeSeconds * 1000;
  if (!options.force && latest && fresh && latest.contentKey === content.contentKey)
    return { status: 'current', doc: latest };
  const doc = await db.transaction(async (tx) => {
    const previous = await latestApprovalDoc(tx, siteName);
    const version = (previous?.version ?? 0) + 1;
    const issuedAt = Math.floor(now / 1000) * 1000;
    const expiresAt = issuedAt + config.approval.lifetimeSeconds * 1000;
    const approval: Approval = {
      apiVersion: 'trustswarm/v1',
      kind: 'Approval',
      site: siteName,
      version,
      issued: isoSeconds(issuedAt),
      expires: isoSeconds(expiresAt),
      trust: content.trust,
      catalogs: content.catalogs,
    };
    const bytes = serializeDocument(approval);
    const signature = signDetached(bytes, signerOf(site), { signingTime: new Date(now) });
    const record: ApprovalDocRecord = {
      site: siteName,
      version,
      bytes,
      signature,
      contentKey: content.contentKey,
      issuedAt,
      expiresAt,
    };
    await insertApprovalDoc(tx, record);
    await pruneApprovalDocs(tx, siteName, version - keptVersions);
    return record;
  });
  services.approvalCache.invalidate(siteName);
  return { status: 'signed', doc };
}

function signerOf(site: SiteRecord) {
  return {
    certificatePem: site.signerCertPem ?? '',
    privateKey: site.signerKeyPem ?? '',
    ...(site.signerChainPem ? { chainPem: splitPem(site.signerChainPem) } : {}),
  };
}

export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Background loop: every checkIntervalSeconds, and soon after any catalog or site change. */
export function startApprovalScheduler(services: Services): () => void {
  let running = false;
  let again = false;
  const runAll = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        for (const site of await listSites(services.db)) {
          try {
            await ensureApprovalSigned(services, site.name);
          } catch (err) {
            services.logger.error({ err, site: site.name }, 'approval signing failed');
          }
        }
      } while (again);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void runAll(), services.config.approval.checkIntervalSeconds * 1000);
  timer.unref();
  void runAll(); // at start: an approval may have expired while the server was down
  const onChange = () => void runAll();
  services.events.on('catalog-changed', onChange);
  services.events.on('site-changed', onChange);
  return () => {
    clearInterval(timer);
    services.events.off('catalog-changed', onChange);
    services.events.off('site-changed', onChange);
  };
}
