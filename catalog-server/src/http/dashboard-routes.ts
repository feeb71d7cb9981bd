// One read-only summary for the web UI's dashboard: catalogs and their expiry, sites with their
// approval and pending entries, certificates by expiry, and swarm health per artifact.
import { loadCertificate, verifyDetached } from '@trustswarm/policy';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { entriesOf, latestVersions, listCatalogs, signaturesOf } from '../storage/catalog-repo.js';
import { listSites } from '../storage/site-repo.js';
import { requireAction } from './auth-plugin.js';
import { pendingCount, siteOverview } from './site-overview.js';

const maxSwarmsListed = 100;

export interface CertificateView {
  role: 'site signer' | 'endorser' | 'CA';
  owner: string;
  subject: string;
  notAfter: string;
}

async function certificates(services: Services): Promise<CertificateView[]> {
  const { db, anchors } = services;
  const seen = new Set<string>();
  const out: CertificateView[] = [];
  const add = (view: CertificateView, sha256: string) => {
    if (seen.has(sha256)) return;
    seen.add(sha256);
    out.push(view);
  };
  for (const site of await listSites(db)) {
    if (!site.signerCertPem) continue;
    const cert = loadCertificate(site.signerCertPem);
    add(
      { role: 'site signer', owner: site.name, subject: cert.subject, notAfter: iso(cert.notAfter) },
      cert.sha256,
    );
  }
  if (anchors) {
    for (const stored of await latestVersions(db)) {
      for (const s of await signaturesOf(db, stored.catalogId, stored.version)) {
        try {
          const { certificate } = verifyDetached(stored.bytes, s.der, anchors, { now: services.clock() });
          add(
            { role: 'endorser', owner: s.subject, subject: s.subject, notAfter: iso(certificate.notAfter) },
            certificate.sha256,
          );
        } catch {
          // an invalid signature is reported on the catalog page, not here
        }
      }
    }
    for (const ca of [...anchors.roots, ...anchors.intermediates])
      add({ role: 'CA', owner: ca.subject, subject: ca.subject, notAfter: iso(ca.notAfter) }, ca.sha256);
  }
  return out.sort((a, b) => a.notAfter.localeCompare(b.notAfter));
}

const iso = (d: Date) => d.toISOString();

export async function dashboardRoutes(app: FastifyInstance) {
  const services = app.services;
  const { db, config } = services;

  app.get('/api/v1/dashboard', { schema: { tags: ['ui'] } }, async (request) => {
    requireAction(request, 'read');
    const names = new Map(
      (await listCatalogs(db, config.limits.maxCatalogsListed)).map((c) => [c.id, c.name]),
    );
    const latest = await latestVersions(db);
    const catalogs = latest.map((v) => ({
      id: v.catalogId,
      name: names.get(v.catalogId) ?? v.catalogId,
      latestVersion: v.version,
      issued: v.issued,
      expires: v.expires,
    }));
    const sites = [];
    for (const site of await listSites(db)) {
      const overview = await siteOverview(services, site);
      sites.push({
        name: site.name,
        threshold: site.threshold,
        hasSigner: site.signerCertPem !== null,
        approval: overview.published,
        pending: pendingCount(overview),
        approved: overview.catalogs.reduce(
          (n, c) => n + c.entries.filter((e) => e.state === 'approved').length,
          0,
        ),
      });
    }
    const swarms = [];
    for (const v of latest) {
      for (const e of await entriesOf(db, v.catalogId, v.version)) {
        if (!e.infoHash) continue;
        swarms.push({
          catalogId: v.catalogId,
          entryId: e.entryId,
          name: e.name,
          infoHash: e.infoHash,
          ...services.tracker.swarm(e.infoHash),
        });
      }
    }
    swarms.sort((a, b) => b.peers - a.peers || a.name.localeCompare(b.name));
    return {
      now: services.clock().toISOString(),
      catalogs,
      sites,
      certificates: await certificates(services),
      swarms: swarms.slice(0, maxSwarmsListed),
      swarmsTotal: swarms.length,
    };
  });
}
