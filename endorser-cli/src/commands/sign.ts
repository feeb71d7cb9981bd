// sign: a detached CMS signature over the exact bytes of catalog.yaml, one file per
// signer named <sha256 of signer cert DER>.p7s, so a second endorser adds theirs beside.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadTrustAnchors, reasonsOf, signDetached, TrustError, verifyDetached } from '@trustswarm/policy';
import { writeFileAtomic } from '../lib/atomic.js';
import { expandPath } from '../lib/config.js';
import type { CommandResult, Context } from '../lib/context.js';
import { CliError, fsError } from '../lib/errors.js';
import { loadIdentity, requireCurrentlyValid } from '../lib/identity.js';
import { parseCatalogOrFail } from '../lib/workspace.js';

/**
 * Checks the new signature as a verifier will, when the configured CA directory is there:
 * a revoked certificate or a missing chain is better learned now than from every site.
 * Advisory: without trust anchors on this machine, signing still works.
 */
function selfCheck(ctx: Context, bytes: Buffer, signature: Buffer): string[] {
  let anchors: ReturnType<typeof loadTrustAnchors>;
  try {
    anchors = loadTrustAnchors({
      caPath: expandPath(ctx.config.verify.caPath),
      crlPolicy: ctx.config.verify.crlPolicy,
    });
  } catch {
    return [`not checked against trust anchors (${ctx.config.verify.caPath} unreadable)`];
  }
  try {
    verifyDetached(bytes, signature, anchors);
    return [];
  } catch (err) {
    return reasonsOf(err).map(
      (r) => `verifiers with ${ctx.config.verify.caPath} will refuse this signature: ${r.code}: ${r.message}`,
    );
  }
}

export interface SignedBytes {
  catalog: ReturnType<typeof parseCatalogOrFail>;
  signature: Buffer;
  identity: Awaited<ReturnType<typeof loadIdentity>>;
  warnings: string[];
}

/**
 * The checks and the signature every signing path shares (`sign`, `draft sign`): the bytes
 * parse as a catalog agents accept, it has not expired, the certificate is valid now.
 */
export async function signCatalogBytes(ctx: Context, bytes: Buffer, source: string): Promise<SignedBytes> {
  // Never sign something the agents would refuse to parse, or that is already expired.
  const catalog = parseCatalogOrFail(bytes, source);
  const now = new Date();
  if (Date.parse(catalog.expires) <= now.getTime())
    throw new CliError(
      'CATALOG_INVALID',
      `catalog expired at ${catalog.expires}: run 'catalog set-expiry' first`,
    );
  const identity = await loadIdentity(ctx.config);
  requireCurrentlyValid(identity.certificate, now);
  let signature: Buffer;
  try {
    signature = signDetached(bytes, {
      certificatePem: identity.certificatePem,
      privateKey: identity.privateKey,
      chainPem: identity.chainPem,
    });
  } catch (err) {
    if (err instanceof TrustError) throw new CliError('IDENTITY_INVALID', err.message);
    throw err;
  }
  return { catalog, signature, identity, warnings: selfCheck(ctx, bytes, signature) };
}

export async function sign(ctx: Context, opts: { catalog?: string; out?: string }): Promise<CommandResult> {
  const catalogPath = opts.catalog ? resolve(opts.catalog) : ctx.workspace.catalogPath;
  let bytes: Buffer;
  try {
    bytes = opts.catalog ? readFileSync(catalogPath) : ctx.workspace.readCatalogBytes();
  } catch (err) {
    throw err instanceof CliError ? err : fsError(err, catalogPath);
  }
  const { catalog, signature, identity, warnings } = await signCatalogBytes(ctx, bytes, catalogPath);
  const dir = opts.out
    ? resolve(opts.out)
    : opts.catalog
      ? join(catalogPath, '..', 'signatures')
      : ctx.workspace.signaturesDir;
  const path = join(dir, `${identity.certificate.sha256}.p7s`);
  await writeFileAtomic(path, signature);
  return {
    data: {
      signature: path,
      signer: identity.certificate.subject,
      issuer: identity.certificate.issuer,
      signerCertSha256: identity.certificate.sha256,
      catalog: { id: catalog.id, version: catalog.version },
      warnings,
    },
    text: [
      `signed ${catalog.name} version ${catalog.version} as ${identity.certificate.subject}`,
      `  ${path}`,
      ...warnings.map((w) => `warning: ${w}`),
    ].join('\n'),
  };
}
