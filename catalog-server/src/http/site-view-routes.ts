// Read-only views the web UI needs for a site: the entry overview with pending changes, the trust
// anchors as CApath files, and a ready tsw-agent configuration for the site.
import { type Certificate, loadCertificate, opensslNameHash } from '@trustswarm/policy';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { conflict, notFound } from '../errors.js';
import { siteByName } from '../storage/site-repo.js';
import { requireAction } from './auth-plugin.js';
import { siteOverview } from './site-overview.js';

type SiteParams = { Params: { site: string } };

const pem = (der: Buffer, label: string) =>
  `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;

/** File names as in /etc/grid-security/certificates: <hash>.N, the N counting hash collisions. */
function fileNamer() {
  const used = new Map<string, number>();
  return (hash: string, suffix: '' | 'r') => {
    const key = `${hash}.${suffix}`;
    const n = used.get(key) ?? 0;
    used.set(key, n + 1);
    return `${hash}.${suffix}${n}`;
  };
}

export async function siteViewRoutes(app: FastifyInstance) {
  const services = app.services;
  const { db, config } = services;

  app.get<SiteParams>('/api/v1/sites/:site/overview', { schema: { tags: ['ui'] } }, async (request) => {
    requireAction(request, 'read');
    const site = await siteByName(db, request.params.site);
    if (!site) throw notFound(`site ${request.params.site}`);
    return siteOverview(services, site);
  });

  app.get('/api/v1/trust-anchors', { schema: { tags: ['ui'] } }, async (request) => {
    requireAction(request, 'read');
    const anchors = services.anchors;
    if (!anchors) return { configured: false, certificates: [], crls: [] };
    const name = fileNamer();
    const cas: Certificate[] = [...anchors.roots, ...anchors.intermediates];
    const certificates = cas.map((c) => ({
      fileName: name(opensslNameHash(c.subjectDer), ''),
      subject: c.subject,
      issuer: c.issuer,
      notAfter: c.notAfter.toISOString(),
      pem: c.pem.endsWith('\n') ? c.pem : `${c.pem}\n`,
    }));
    const crls = anchors.crls.map((crl) => {
      const ca = anchors.bySubject.get(crl.issuerCanonical)?.[0];
      return {
        fileName: ca ? name(opensslNameHash(ca.subjectDer), 'r') : null,
        issuer: crl.issuer,
        nextUpdate: crl.nextUpdate?.toISOString() ?? null,
        pem: pem(crl.der, 'X509 CRL'),
      };
    });
    return { configured: true, certificates, crls };
  });

  app.get<SiteParams>(
    '/api/v1/sites/:site/agent-config',
    { schema: { tags: ['ui'] } },
    async (request, reply) => {
      requireAction(request, 'read');
      const site = await siteByName(db, request.params.site);
      if (!site) throw notFound(`site ${request.params.site}`);
      if (!site.signerCertPem)
        throw conflict(
          'SIGNER_MISSING',
          `site ${site.name} has no signer yet: agents could not verify its approval`,
        );
      const signer = loadCertificate(site.signerCertPem);
      const body = stringify({
        site: site.name,
        layoutUrl: config.server.publicUrl,
        trust: {
          caPath: '/etc/grid-security/certificates',
          crlPolicy: 'require',
          siteSigners: [{ issuer: signer.issuer, subject: signer.subject }],
        },
      });
      const header = `# tsw-agent configuration for site ${site.name}, written by tsw-catalog on ${services.clock().toISOString()}\n# Every other key keeps its default (tsw-agent --print-config shows them).\n`;
      return reply
        .type('application/yaml')
        .header('content-disposition', `attachment; filename="tsw-agent-${site.name}.yaml"`)
        .send(header + body);
    },
  );
}
