// verify: the checks an agent runs, offline. Every signature on its own, then the catalog
// (threshold, parse, freshness) through policy's verifyCatalog, or — with an approval —
// the whole endorsed-AND-approved decision through policy's evaluate. Every reason listed.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type Catalog,
  type CatalogEntry,
  evaluate,
  loadCertificate,
  loadTrustAnchors,
  parseCatalog,
  type Reason,
  reasonsOf,
  sha256Hex,
  type TrustAnchors,
  verifyCatalog,
  verifyDetached,
} from '@trustswarm/policy';
import { expandPath } from '../lib/config.js';
import type { CommandResult, Context } from '../lib/context.js';
import { CliError, EXIT, fsError } from '../lib/errors.js';
import { hashFile } from '../lib/hash-file.js';
import { infoHashOf } from '../lib/torrent.js';

export interface VerifyOptions {
  catalog?: string;
  signatures?: string;
  ca?: string;
  approval?: string;
  approvalSignature?: string;
  siteSignerCert?: string[];
  site?: string;
  threshold?: number;
  /** Re-hash the local artifact files too (slow for large images). */
  checkArtifacts?: boolean;
}

interface SignatureVerdict {
  file: string;
  valid: boolean;
  signer?: string;
  issuer?: string;
  signingTime?: string;
  reasons: Reason[];
}

interface EntryVerdict {
  id: string;
  name: string | undefined;
  version: string | undefined;
  kind: string | undefined;
  allowed: boolean;
  reasons: Reason[];
}

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw fsError(err, `${what} ${path}`);
  }
}

function loadAnchors(ctx: Context, caDir: string | undefined): TrustAnchors {
  const caPath = expandPath(caDir ?? ctx.config.verify.caPath);
  try {
    return loadTrustAnchors({ caPath, crlPolicy: ctx.config.verify.crlPolicy });
  } catch (err) {
    throw new CliError('VERIFY_FAILED', `trust anchors: ${reasonsOf(err)[0]?.message ?? 'invalid'}`);
  }
}

/** A local .torrent, when present, must be exactly the one the entry pins. */
function torrentReasons(ctx: Context, entry: CatalogEntry): Reason[] {
  if (!entry.artifact) return [];
  const path = ctx.workspace.torrentPath(entry.artifact.infoHash);
  if (!existsSync(path)) return [];
  const bytes = readInput(path, 'torrent');
  const reasons: Reason[] = [];
  if (sha256Hex(bytes) !== entry.artifact.torrent.sha256)
    reasons.push({
      code: 'DIGEST_MISMATCH',
      message: `${path}: sha256 differs from the catalog's torrent.sha256`,
    });
  let infoHash: string | undefined;
  try {
    infoHash = infoHashOf(bytes);
  } catch {
    infoHash = undefined;
  }
  if (infoHash !== entry.artifact.infoHash)
    reasons.push({
      code: 'DIGEST_MISMATCH',
      message: `${path}: info hash differs from the catalog's infoHash`,
    });
  return reasons;
}

/** The entries of a catalog that failed verification, parsed only to name them. */
function entriesForDisplay(bytes: Buffer): CatalogEntry[] {
  try {
    return parseCatalog(bytes).entries;
  } catch {
    return [];
  }
}

function verdictOf(
  entry: CatalogEntry | undefined,
  id: string,
  allowed: boolean,
  reasons: Reason[],
): EntryVerdict {
  return { id, name: entry?.name, version: entry?.version, kind: entry?.kind, allowed, reasons };
}

/** The command line names the repeatable flag --site-cert. */
export async function verifyFromFlags(
  ctx: Context,
  flags: VerifyOptions & { siteCert?: string[] },
): Promise<CommandResult> {
  return verify(ctx, { ...flags, siteSignerCert: flags.siteCert });
}

/** Re-hashes the local bytes of each entry (as an agent does after a download). */
async function checkArtifacts(ctx: Context, bytes: Buffer, entries: EntryVerdict[]): Promise<void> {
  const sources = ctx.workspace.readSources().artifacts;
  const byId = new Map(entriesForDisplay(bytes).map((e) => [e.id, e]));
  for (const verdict of entries) {
    const artifact = byId.get(verdict.id)?.artifact;
    if (!artifact) continue;
    const source = sources[artifact.sha256];
    let reason: Reason | undefined;
    if (!source) {
      reason = { code: 'ENTRY_MISSING', message: `no local copy of artifact ${artifact.sha256}` };
    } else {
      try {
        const d = await hashFile(source.path);
        if (d.sha256 !== artifact.sha256 || d.sizeBytes !== artifact.size)
          reason = {
            code: 'DIGEST_MISMATCH',
            message: `${source.path}: bytes do not match the catalog's sha256 and size`,
          };
      } catch (err) {
        reason = { code: 'ENTRY_MISSING', message: err instanceof Error ? err.message : String(err) };
      }
    }
    if (reason) {
      verdict.allowed = false;
      verdict.reasons.push(reason);
    }
  }
}

export async function verify(ctx: Context, opts: VerifyOptions): Promise<CommandResult> {
  const catalogPath = opts.catalog ? resolve(opts.catalog) : ctx.workspace.catalogPath;
  const bytes = opts.catalog ? readInput(catalogPath, 'catalog') : ctx.workspace.readCatalogBytes();
  const sigDir = opts.signatures
    ? resolve(opts.signatures)
    : opts.catalog
      ? join(catalogPath, '..', 'signatures')
      : ctx.workspace.signaturesDir;
  const sigFiles = ctx.workspace.signatureFiles(sigDir);
  const anchors = loadAnchors(ctx, opts.ca);
  const now = new Date();

  const signatures: SignatureVerdict[] = sigFiles.map((f) => {
    try {
      const v = verifyDetached(bytes, f.bytes, anchors, { now });
      const misnamed = f.name !== `${v.signerCertSha256}.p7s`;
      return {
        file: f.name,
        valid: true,
        signer: v.identity.subject,
        issuer: v.identity.issuer,
        signingTime: v.signingTime.toISOString(),
        reasons: misnamed
          ? [{ code: 'SIGNATURE_INVALID', message: `${f.name}: expected the name ${v.signerCertSha256}.p7s` }]
          : [],
      };
    } catch (err) {
      return { file: f.name, valid: false, reasons: reasonsOf(err) };
    }
  });

  let catalog: Catalog | undefined;
  let catalogReasons: Reason[] = [];
  let entries: EntryVerdict[] = [];
  if (opts.approval) {
    ({ catalog, catalogReasons, entries } = withApproval(ctx, opts, bytes, sigFiles, anchors, now));
  } else {
    const valid = signatures.filter((s) => s.valid && s.signer && s.issuer);
    const trust = {
      threshold: opts.threshold ?? ctx.config.verify.threshold,
      endorsers: valid.map((s) => ({ issuer: s.issuer as string, subject: s.signer as string })),
    };
    try {
      catalog = verifyCatalog({ bytes, signatures: sigFiles.map((f) => f.bytes) }, trust, {
        anchors,
        now,
      }).catalog;
    } catch (err) {
      catalogReasons = reasonsOf(err);
    }
    if (catalog) {
      entries = catalog.entries.map((e) => {
        const reasons = torrentReasons(ctx, e);
        return verdictOf(e, e.id, reasons.length === 0, reasons);
      });
    } else {
      // Still one verdict per entry: each is refused for the catalog's reasons.
      entries = entriesForDisplay(bytes).map((e) => verdictOf(e, e.id, false, catalogReasons));
    }
  }
  if (opts.checkArtifacts) await checkArtifacts(ctx, bytes, entries);
  const ok = catalog !== undefined && catalogReasons.length === 0 && entries.every((e) => e.allowed);
  const data = {
    ok,
    catalog: {
      path: catalogPath,
      sha256: sha256Hex(bytes),
      id: catalog?.id,
      version: catalog?.version,
      valid: catalog !== undefined && catalogReasons.length === 0,
      reasons: catalogReasons,
    },
    signatures,
    entries,
  };
  return { data, text: render(data), exitCode: ok ? EXIT.ok : EXIT.verification };
}

function withApproval(
  ctx: Context,
  opts: VerifyOptions,
  bytes: Buffer,
  sigFiles: Array<{ bytes: Buffer }>,
  anchors: TrustAnchors,
  now: Date,
): { catalog: Catalog | undefined; catalogReasons: Reason[]; entries: EntryVerdict[] } {
  const approvalPath = resolve(opts.approval as string);
  const approvalBytes = readInput(approvalPath, 'approval');
  const approvalSig = readInput(
    resolve(opts.approvalSignature ?? `${approvalPath}.p7s`),
    'approval signature',
  );
  const siteSigners = [
    ...ctx.config.verify.siteSigners,
    ...(opts.siteSignerCert ?? []).map((p) => {
      const cert = loadCertificate(readInput(resolve(p), 'site certificate'));
      return { issuer: cert.issuer, subject: cert.subject };
    }),
  ];
  if (siteSigners.length === 0)
    throw new CliError(
      'USAGE',
      'verify --approval needs the site signer: --site-cert FILE or verify.siteSigners',
    );
  try {
    const result = evaluate({
      approval: { bytes: approvalBytes, signature: approvalSig },
      catalogs: [{ bytes, signatures: sigFiles.map((f) => f.bytes) }],
      siteSigners,
      ...(opts.site ? { site: opts.site } : {}),
      anchors,
      now,
    });
    const mine = result.catalogs.find((c) => c.ref.sha256 === sha256Hex(bytes));
    const entries = result.entries
      .filter((e) => !mine || e.catalogId === mine.ref.id)
      .map((e) => {
        const local = e.entry ? torrentReasons(ctx, e.entry) : [];
        return verdictOf(e.entry, e.entryId, e.allowed && local.length === 0, [...e.reasons, ...local]);
      });
    if (!mine)
      return {
        catalog: undefined,
        catalogReasons: [
          { code: 'NOT_APPROVED', message: 'the approval does not name this catalog (by its sha256)' },
        ],
        entries,
      };
    return { catalog: mine.verified?.catalog, catalogReasons: mine.reasons, entries };
  } catch (err) {
    return { catalog: undefined, catalogReasons: reasonsOf(err), entries: [] };
  }
}

function render(data: {
  ok: boolean;
  catalog: {
    path: string;
    id: string | undefined;
    version: number | undefined;
    valid: boolean;
    reasons: Reason[];
  };
  signatures: SignatureVerdict[];
  entries: EntryVerdict[];
}): string {
  const lines: string[] = [];
  const reasonLines = (reasons: Reason[], indent: string) =>
    reasons.map((r) => `${indent}- ${r.code}: ${r.message}`);
  lines.push(`catalog ${data.catalog.path}: ${data.catalog.valid ? 'VALID' : 'REJECTED'}`);
  lines.push(...reasonLines(data.catalog.reasons, '  '));
  lines.push(`signatures (${data.signatures.length}):`);
  for (const s of data.signatures) {
    lines.push(`  ${s.valid ? 'ok  ' : 'BAD '} ${s.file}${s.signer ? ` ${s.signer}` : ''}`);
    lines.push(...reasonLines(s.reasons, '      '));
  }
  lines.push(`entries (${data.entries.length}):`);
  for (const e of data.entries) {
    lines.push(`  ${e.allowed ? 'ok  ' : 'BAD '} ${e.name ?? '?'} ${e.version ?? ''} (${e.id})`);
    lines.push(...reasonLines(e.reasons, '      '));
  }
  lines.push(data.ok ? 'verdict: OK' : 'verdict: REJECTED');
  return lines.join('\n');
}
