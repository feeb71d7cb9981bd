// Site management operations: each checks its input, writes in one transaction with its audit
// record, and announces the change so the approval is re-derived and re-signed.
import { randomBytes } from 'node:crypto';
import { entryDigest, loadCertificate, parseCatalog, scopeSchema, signDetached } from '@trustswarm/policy';
import { appendAudit } from '../audit/chain.js';
import type { Principal } from '../auth/authorize.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { actorOf } from '../http/auth-plugin.js';
import type { Services } from '../services.js';
import { catalogById, versionOf } from '../storage/catalog-repo.js';
import type { SqlExecutor } from '../storage/db.js';
import {
  addRemoval,
  deleteAutoRule,
  deleteEndorser,
  deleteEndorserApproval,
  deleteRemoval,
  deleteSubscription,
  type EndorserScope,
  insertAutoRule,
  insertSite,
  putEndorser,
  putEndorserApproval,
  putEntryApproval,
  replaceUpstreamEndorsers,
  type SiteRecord,
  saveSubscription,
  siteByName,
  subscriptionOf,
  updateSite,
} from '../storage/site-repo.js';
import { splitPem } from './approval-signer.js';
import { keyOfDns } from './trust.js';

export const sitePattern = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;

export function parseScope(input: unknown): EndorserScope {
  const result = scopeSchema.safeParse(input ?? {});
  if (!result.success)
    throw badRequest('SCOPE_INVALID', `scope: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}

export class SiteAdmin {
  constructor(private readonly services: Services) {}

  private async write(
    principal: Principal,
    site: string,
    action: string,
    detail: Record<string, unknown>,
    fn: (tx: SqlExecutor, record: SiteRecord) => Promise<void>,
  ): Promise<void> {
    const { db, clock } = this.services;
    await db.transaction(async (tx) => {
      const record = await siteByName(tx, site);
      if (!record) throw notFound(`site ${site}`);
      await fn(tx, record);
      await appendAudit(
        db,
        tx,
        { actor: actorOf(principal), action, target: `site:${site}`, detail },
        clock(),
      );
    });
    this.services.events.emit('site-changed', site);
  }

  async create(principal: Principal, name: string, threshold: number): Promise<SiteRecord> {
    if (!sitePattern.test(name))
      throw badRequest('SITE_NAME_INVALID', 'site names use letters, digits and . _ + -');
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > 100)
      throw badRequest('THRESHOLD_INVALID', 'threshold must be 1..100');
    const { db, clock } = this.services;
    const record: SiteRecord = {
      name,
      threshold,
      signerCertPem: null,
      signerKeyPem: null,
      signerChainPem: null,
      createdAt: clock().getTime(),
    };
    await db.transaction(async (tx) => {
      if (await siteByName(tx, name)) throw conflict('SITE_EXISTS', `site ${name} exists`);
      await insertSite(tx, record);
      await appendAudit(
        db,
        tx,
        { actor: actorOf(principal), action: 'site.create', target: `site:${name}`, detail: { threshold } },
        clock(),
      );
    });
    return record;
  }

  /** The site signing key: checked by signing a probe (the key must match the certificate). */
  async setSigner(
    principal: Principal,
    site: string,
    certificatePem: string,
    privateKeyPem: string,
    chainPem?: string,
  ) {
    let subject: string;
    try {
      const cert = loadCertificate(certificatePem);
      subject = cert.subject;
      signDetached(Buffer.from('probe'), {
        certificatePem,
        privateKey: privateKeyPem,
        chainPem: splitPem(chainPem ?? ''),
      });
    } catch (err) {
      throw badRequest('SIGNER_INVALID', `site signer unusable: ${(err as Error).message}`);
    }
    await this.write(principal, site, 'site.signer.set', { subject }, (tx, record) =>
      updateSite(tx, {
        ...record,
        signerCertPem: certificatePem,
        signerKeyPem: privateKeyPem,
        signerChainPem: chainPem ?? null,
      }),
    );
    return { subject };
  }

  async setThreshold(principal: Principal, site: string, threshold: number) {
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > 100)
      throw badRequest('THRESHOLD_INVALID', 'threshold must be 1..100');
    await this.write(principal, site, 'site.threshold.set', { threshold }, (tx, record) =>
      updateSite(tx, { ...record, threshold }),
    );
  }

  async addEndorser(principal: Principal, site: string, issuer: string, subject: string, scope: unknown) {
    const identityKey = keyOfDns(issuer, subject);
    const parsed = parseScope(scope);
    await this.write(principal, site, 'site.endorser.add', { issuer, subject, scope: parsed }, async (tx) => {
      await putEndorser(tx, { site, identityKey, origin: 'local', issuer, subject, scope: parsed });
      await deleteRemoval(tx, site, identityKey);
    });
    return { identityKey };
  }

  /** Removes a local endorser and hides the same identity if an upstream list names it. */
  async removeEndorser(principal: Principal, site: string, issuer: string, subject: string) {
    const identityKey = keyOfDns(issuer, subject);
    await this.write(principal, site, 'site.endorser.remove', { issuer, subject }, async (tx) => {
      await deleteEndorser(tx, site, identityKey, 'local');
      await addRemoval(tx, site, identityKey);
    });
  }

  /** Approve or revoke one entry of the newest version of a catalog (pinned to its digest). */
  async decideEntry(
    principal: Principal,
    site: string,
    catalogId: string,
    entryId: string,
    state: 'approved' | 'revoked',
  ) {
    const { db, clock } = this.services;
    const summary = await catalogById(db, catalogId);
    if (!summary) throw notFound(`catalog ${catalogId}`);
    const stored = await versionOf(db, catalogId, summary.latestVersion);
    if (!stored) throw notFound(`catalog ${catalogId} version ${summary.latestVersion}`);
    const entry = parseCatalog(stored.bytes).entries.find((e) => e.id === entryId);
    if (!entry) throw notFound(`entry ${entryId} in catalog ${catalogId} v${summary.latestVersion}`);
    const sha256 = entryDigest(entry);
    if (!sha256) throw badRequest('ENTRY_UNAPPROVABLE', `entry ${entryId} has no content digest`);
    await this.write(
      principal,
      site,
      state === 'approved' ? 'site.entry.approve' : 'site.entry.revoke',
      { catalogId, entryId, sha256 },
      (tx) =>
        putEntryApproval(tx, {
          site,
          catalogId,
          entryId,
          sha256,
          state,
          byUser: principal.user.name,
          at: clock().getTime(),
        }),
    );
    return { catalogId, entryId, sha256, state };
  }

  async approveEndorser(
    principal: Principal,
    site: string,
    issuer: string,
    subject: string,
    approve: boolean,
  ) {
    const identityKey = keyOfDns(issuer, subject);
    await this.write(
      principal,
      site,
      approve ? 'site.endorser.approve-all' : 'site.endorser.approve-all.remove',
      { issuer, subject },
      async (tx) => {
        if (approve)
          await putEndorserApproval(
            tx,
            site,
            identityKey,
            principal.user.name,
            this.services.clock().getTime(),
          );
        else if ((await deleteEndorserApproval(tx, site, identityKey)) === 0)
          throw notFound('endorser approval');
      },
    );
  }

  async addAutoRule(principal: Principal, site: string, issuer: string, subject: string, scope: unknown) {
    const identityKey = keyOfDns(issuer, subject);
    const parsed = parseScope(scope);
    const id = randomBytes(8).toString('hex');
    await this.write(principal, site, 'site.auto-rule.add', { id, issuer, subject, scope: parsed }, (tx) =>
      insertAutoRule(tx, {
        id,
        site,
        identityKey,
        scope: parsed,
        byUser: principal.user.name,
        at: this.services.clock().getTime(),
      }),
    );
    return { id };
  }

  async removeAutoRule(principal: Principal, site: string, id: string) {
    await this.write(principal, site, 'site.auto-rule.remove', { id }, async (tx) => {
      if ((await deleteAutoRule(tx, site, id)) === 0) throw notFound(`auto-approve rule ${id}`);
    });
  }

  async subscribe(
    principal: Principal,
    site: string,
    url: string,
    signerIssuer: string,
    signerSubject: string,
  ) {
    if (!/^https?:\/\/\S+$/.test(url)) throw badRequest('URL_INVALID', 'url must be http(s)');
    keyOfDns(signerIssuer, signerSubject);
    await this.write(
      principal,
      site,
      'site.upstream.subscribe',
      { url, signerIssuer, signerSubject },
      async (tx) => {
        const previous = await subscriptionOf(tx, site);
        await saveSubscription(tx, {
          site,
          url,
          signerIssuer,
          signerSubject,
          status: 'pending',
          lastAttemptAt: null,
          lastSuccessAt: null,
          lastError: null,
          lastVersion: previous?.url === url ? previous.lastVersion : null,
        });
      },
    );
  }

  async unsubscribe(principal: Principal, site: string) {
    await this.write(principal, site, 'site.upstream.unsubscribe', {}, async (tx) => {
      if ((await deleteSubscription(tx, site)) === 0) throw notFound(`subscription of site ${site}`);
      await replaceUpstreamEndorsers(tx, site, []);
    });
  }
}
