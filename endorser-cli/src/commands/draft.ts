// draft sign ID: the next catalog version was prepared on the catalog server (drafts); the
// endorser fetches its exact bytes, checks and signs them here, and uploads only the
// signature. The private key never leaves this machine; the server publishes the draft
// once the signature covers the bytes it holds.

import { createHash } from 'node:crypto';
import type { CommandResult, Context } from '../lib/context.js';
import { CliError } from '../lib/errors.js';
import { ServerClient } from '../lib/server-client.js';
import { readToken } from './publish.js';
import { signCatalogBytes } from './sign.js';

const MAX_DRAFT_BYTES = 16 * 1024 * 1024;

export async function draftSign(
  ctx: Context,
  id: string,
  opts: { server?: string; tokenFile?: string },
): Promise<CommandResult> {
  const serverUrl = opts.server ?? ctx.config.server.url;
  if (!serverUrl) throw new CliError('USAGE', 'no server: use --server URL or server.url in the config');
  if (!/^[0-9a-f-]{36}$/.test(id))
    throw new CliError('USAGE', `draft sign needs a catalog id (UUID), got ${id}`);
  const client = new ServerClient({
    baseUrl: serverUrl,
    token: readToken(ctx, opts),
    timeoutSeconds: ctx.config.server.timeoutSeconds,
  });
  const res = await client.send('GET', `/catalogs/${id}/draft`);
  await client.expectOk(res, `draft of catalog ${id}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > MAX_DRAFT_BYTES)
    throw new CliError('SERVER_REJECTED', `draft of ${bytes.length} bytes is too large`);
  // The server states the digest of the draft; bytes changed in transit are never signed.
  const stated = res.headers.get('x-trustswarm-sha256');
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (stated !== actual)
    throw new CliError(
      'SERVER_REJECTED',
      `draft bytes do not match the digest the server states (${stated ?? 'none'})`,
    );
  const { catalog, signature, identity, warnings } = await signCatalogBytes(ctx, bytes, `draft of ${id}`);
  const sent = await client.send('POST', `/catalogs/${id}/draft/signatures`, {
    headers: { 'content-type': 'application/pkcs7-signature' },
    body: new Uint8Array(signature),
  });
  await client.expectOk(sent, `signature of the draft of ${catalog.name}`);
  return {
    data: {
      server: serverUrl,
      catalog: { id: catalog.id, name: catalog.name, version: catalog.version, sha256: actual },
      signer: identity.certificate.subject,
      signerCertSha256: identity.certificate.sha256,
      warnings,
    },
    text: [
      `signed the draft of ${catalog.name} version ${catalog.version} (${catalog.entries.length} entries, sha256 ${actual.slice(0, 16)}…) as ${identity.certificate.subject}`,
      `the server published it: ${serverUrl.replace(/\/+$/, '')}/catalogs/${catalog.id}/${catalog.version}/catalog.yaml`,
      ...warnings.map((w) => `warning: ${w}`),
    ].join('\n'),
  };
}
