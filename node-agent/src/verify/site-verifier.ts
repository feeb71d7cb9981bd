// The agent's one verification door. `SiteVerifier` is the seam where @trustswarm/policy's
// verifyApproval()/evaluate() plug in; until they land on main, `OpensslSiteVerifier`
// checks the approval's detached CMS signature with stock `openssl cms` against the
// site's CApath (with CRLs), the signer's subject against the configured site signers,
// freshness, site name and rollback, and binds every catalog to the approval by sha256.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { AgentError } from '../errors.js';
import { sha256Hex } from '../layout-client.js';
import { type Approval, approvalSchema, type CatalogEntry, catalogSchema, parseStrict } from './documents.js';
import type { HighWaterStore } from './high-water.js';

export interface VerifierConfig {
  site: string;
  caPath: string;
  crlCheck: boolean;
  /** Subjects (openssl RFC 2253 form) allowed to sign the site's approval. */
  siteSigners: string[];
  maxApprovalBytes: number;
  maxCatalogBytes: number;
  clockSkewSeconds: number;
}

export interface VerifiedApproval {
  approval: Approval;
  sha256: string;
}

export interface ApprovedEntry {
  catalogId: string;
  catalogVersion: number;
  entry: CatalogEntry;
}

export interface Refusal {
  catalogId: string;
  entryId?: string;
  code: string;
  message: string;
}

export interface SiteVerifier {
  verifyApproval(doc: { bytes: Uint8Array; signature: Uint8Array }, now: Date): Promise<VerifiedApproval>;
  /** Entries of one approved catalog that may be used; the catalog bytes are already pinned. */
  approvedEntries(
    approval: VerifiedApproval,
    catalogBytes: Uint8Array,
    catalogId: string,
    now: Date,
  ): ApprovedEntry[];
}

function refuse(message: string): never {
  throw new AgentError('VERIFY_FAILED', message);
}

export class OpensslSiteVerifier implements SiteVerifier {
  constructor(
    private readonly config: VerifierConfig,
    private readonly highWater: HighWaterStore,
  ) {}

  async verifyApproval(
    doc: { bytes: Uint8Array; signature: Uint8Array },
    now: Date,
  ): Promise<VerifiedApproval> {
    const subject = await this.checkSignature(doc.bytes, doc.signature);
    if (!this.config.siteSigners.includes(subject)) {
      refuse(`approval signed by ${subject}, who is not a configured site signer`);
    }
    const approval = parseStrict(doc.bytes, approvalSchema, 'approval.yaml', this.config.maxApprovalBytes);
    if (approval.site !== this.config.site)
      refuse(`approval is for site ${approval.site}, not ${this.config.site}`);
    const skewMs = this.config.clockSkewSeconds * 1000;
    if (approval.expires.getTime() <= now.getTime())
      refuse(`approval ${approval.version} expired at ${approval.expires.toISOString()}`);
    if (approval.issued.getTime() > now.getTime() + skewMs)
      refuse(`approval ${approval.version} is issued in the future`);
    const sha256 = sha256Hex(doc.bytes);
    const key = `approval:${approval.site}`;
    const seen = this.highWater.get(key);
    if (seen && approval.version < seen.version) {
      refuse(
        `approval version ${approval.version} is older than version ${seen.version} already seen (rollback)`,
      );
    }
    if (seen && approval.version === seen.version && seen.sha256 !== sha256) {
      refuse(`approval version ${approval.version} differs from the one already seen (equivocation)`);
    }
    this.highWater.set(key, { version: approval.version, sha256 });
    return { approval, sha256 };
  }

  approvedEntries(
    verified: VerifiedApproval,
    catalogBytes: Uint8Array,
    catalogId: string,
    now: Date,
  ): ApprovedEntry[] {
    const ref = verified.approval.catalogs.find((c) => c.id === catalogId);
    if (!ref) refuse(`catalog ${catalogId} is not in the approval`);
    if (sha256Hex(catalogBytes) !== ref.sha256)
      refuse(`catalog ${catalogId} bytes differ from the approved sha256`);
    const catalog = parseStrict(
      catalogBytes,
      catalogSchema,
      `catalog ${catalogId}`,
      this.config.maxCatalogBytes,
    );
    if (catalog.id !== ref.id || catalog.version !== ref.version) {
      refuse(
        `catalog ${catalogId} is ${catalog.id} version ${catalog.version}, approval names version ${ref.version}`,
      );
    }
    if (catalog.expires.getTime() <= now.getTime())
      refuse(`catalog ${catalogId} expired at ${catalog.expires.toISOString()}`);
    const out: ApprovedEntry[] = [];
    for (const approved of ref.entries) {
      const entry = catalog.entries.find((e) => e.id === approved.id);
      if (!entry?.artifact || entry.artifact.sha256 !== approved.sha256) continue; // not usable: skip, never guess
      out.push({ catalogId: catalog.id, catalogVersion: catalog.version, entry });
    }
    return out;
  }

  /** Runs `openssl cms -verify` on the exact bytes; returns the signer's subject. */
  private async checkSignature(content: Uint8Array, signature: Uint8Array): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tsw-verify-'));
    try {
      const [doc, sig, signer] = ['doc', 'sig.p7s', 'signer.pem'].map((n) => join(dir, n)) as [
        string,
        string,
        string,
      ];
      await writeFile(doc, content);
      await writeFile(sig, signature);
      const args = ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', doc];
      args.push('-CApath', this.config.caPath, '-purpose', 'any', '-signer', signer, '-out', '/dev/null');
      if (this.config.crlCheck) args.push('-crl_check');
      const result = await execa('openssl', args, { reject: false });
      if (result.exitCode !== 0) {
        const line = result.stderr.split('\n').find((l) => l.trim()) ?? 'unknown error';
        refuse(`approval signature invalid: ${line.trim()}`);
      }
      const subject = await execa('openssl', [
        'x509',
        '-in',
        signer,
        '-noout',
        '-subject',
        '-nameopt',
        'RFC2253',
      ]);
      return subject.stdout.replace(/^subject=\s*/, '').trim();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch {
    return undefined;
  }
}
