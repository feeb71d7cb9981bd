// The static distribution layout of DESIGN.md, unauthenticated, with ETag/If-None-Match and
// Cache-Control: site approvals (+ signature, + readable index), catalog versions and signatures.
import { createHash } from 'node:crypto';
import { parseApproval } from '@trustswarm/policy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../errors.js';
import type { CachedApproval } from '../sites/approval-cache.js';
import { entriesOf, signatureOf, signaturesOf, versionOf } from '../storage/catalog-repo.js';
import { answerNotModified, quoteEtag } from './conditional.js';

const SIGNATURE_INDEX = 'index.json';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export async function staticRoutes(app: FastifyInstance) {
  const { db, approvalCache, config } = app.services;
  const shortCache = `public, max-age=${config.static.cacheMaxAgeSeconds}`;
  const immutable = `public, max-age=${config.static.immutableMaxAgeSeconds}, immutable`;
  const html = new Map<string, { version: number; body: string; etag: string }>();

  async function approvalOf(site: string): Promise<CachedApproval> {
    const cached = await approvalCache.get(site);
    if (!cached) throw notFound(`approval of site ${site}`);
    return cached;
  }

  const schema = { tags: ['static'], security: [] };

  app.get<{ Params: { site: string } }>('/sites/:site/approval.yaml', { schema }, async (request, reply) => {
    const doc = await approvalOf(request.params.site);
    if (answerNotModified(request, reply, doc.etag, shortCache)) return reply;
    return reply.type('application/yaml').send(doc.bytes);
  });

  app.get<{ Params: { site: string } }>(
    '/sites/:site/approval.yaml.p7s',
    { schema },
    async (request, reply) => {
      const doc = await approvalOf(request.params.site);
      if (answerNotModified(request, reply, doc.signatureEtag, shortCache)) return reply;
      return reply.type('application/pkcs7-signature').send(doc.signature);
    },
  );

  app.get<{ Params: { site: string } }>('/sites/:site/index.html', { schema }, async (request, reply) => {
    const { site } = request.params;
    const doc = await approvalOf(site);
    let page = html.get(site);
    if (!page || page.version !== doc.version) {
      const body = await renderIndex(site, doc);
      page = { version: doc.version, body, etag: quoteEtag(createHash('sha256').update(body).digest('hex')) };
      html.set(site, page);
    }
    if (answerNotModified(request, reply, page.etag, shortCache)) return reply;
    return reply.type('text/html; charset=utf-8').send(page.body);
  });

  async function renderIndex(site: string, doc: CachedApproval): Promise<string> {
    const approval = parseApproval(doc.bytes);
    const rows: string[] = [];
    for (const ref of approval.catalogs) {
      const names = new Map((await entriesOf(db, ref.id, ref.version)).map((e) => [e.entryId, e]));
      for (const entry of ref.entries) {
        const known = names.get(entry.id);
        rows.push(
          `<tr><td>${escapeHtml(known?.name ?? entry.id)}</td><td>${escapeHtml(known?.kind ?? '')}</td>` +
            `<td><a href="/catalogs/${ref.id}/${ref.version}/catalog.yaml">${escapeHtml(ref.id)} v${ref.version}</a></td>` +
            `<td><code>${entry.sha256}</code></td></tr>`,
        );
      }
    }
    const endorsers = approval.trust.endorsers
      .map((e) => `<li>${escapeHtml(e.subject)} <small>(issuer ${escapeHtml(e.issuer)})</small></li>`)
      .join('');
    return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(site)} approved artifacts</title></head><body>
<h1>Approved artifacts of ${escapeHtml(site)}</h1>
<p>Approval version ${approval.version}, issued ${approval.issued}, expires ${approval.expires}.
<a href="approval.yaml">approval.yaml</a> (<a href="approval.yaml.p7s">signature</a>)</p>
<h2>Trusted endorsers (threshold ${approval.trust.threshold})</h2><ul>${endorsers}</ul>
<h2>Entries</h2><table><thead><tr><th>name</th><th>kind</th><th>catalog</th><th>sha256</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></body></html>
`;
  }

  app.get<{ Params: { id: string; version: string } }>(
    '/catalogs/:id/:version/catalog.yaml',
    { schema },
    async (request, reply) => {
      const stored = await versionOf(db, request.params.id, versionNumber(request.params.version));
      if (!stored) throw notFound(`catalog ${request.params.id} version ${request.params.version}`);
      return sendImmutable(request, reply, stored.sha256, 'application/yaml', stored.bytes);
    },
  );

  app.get<{ Params: { id: string; version: string; file: string } }>(
    '/catalogs/:id/:version/signatures/:file',
    { schema },
    async (request, reply) => {
      if (request.params.file === SIGNATURE_INDEX) return signatureIndex(request, reply);
      const match = /^([0-9a-f]{64})\.p7s$/.exec(request.params.file);
      if (!match?.[1]) throw notFound(`signature ${request.params.file}`);
      const sig = await signatureOf(db, request.params.id, versionNumber(request.params.version), match[1]);
      if (!sig) throw notFound(`signature ${request.params.file}`);
      const etag = createHash('sha256').update(sig.der).digest('hex');
      return sendImmutable(request, reply, etag, 'application/pkcs7-signature', sig.der);
    },
  );

  // signatures/index.json lists the signer-certificate sha256 values of a version, so an
  // agent reading only the static layout can find every signature file. Signatures can be
  // added to a version, so the list is cached briefly, not forever.
  async function signatureIndex(
    request: FastifyRequest<{ Params: { id: string; version: string } }>,
    reply: FastifyReply,
  ) {
    const { id, version } = request.params;
    const stored = await versionOf(db, id, versionNumber(version));
    if (!stored) throw notFound(`catalog ${id} version ${version}`);
    const body = JSON.stringify((await signaturesOf(db, id, stored.version)).map((s) => s.signerCertSha256));
    const etag = quoteEtag(createHash('sha256').update(body).digest('hex'));
    if (answerNotModified(request, reply, etag, shortCache)) return reply;
    return reply.type('application/json').send(body);
  }

  function sendImmutable(
    request: FastifyRequest,
    reply: FastifyReply,
    sha256: string,
    type: string,
    body: Buffer,
  ) {
    if (answerNotModified(request, reply, quoteEtag(sha256), immutable)) return reply;
    return reply.type(type).send(body);
  }
}

function versionNumber(text: string): number {
  const n = Number(text);
  if (!/^\d{1,15}$/.test(text) || n < 1) throw notFound(`catalog version ${text}`);
  return n;
}
