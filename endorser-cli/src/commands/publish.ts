// publish: uploads what agents will need before the catalog that names it — torrents,
// then artifacts (resumable), then catalog.yaml with its signatures — so a published
// catalog never points at bytes the server does not have. Refuses unsigned or invalid
// catalogs before sending anything.

import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { type Catalog, loadTrustAnchors, reasonsOf, sha256Hex, verifyDetached } from '@trustswarm/policy';
import { expandPath } from '../lib/config.js';
import type { CommandResult, Context } from '../lib/context.js';
import { CliError, fsError } from '../lib/errors.js';
import { startProgress } from '../lib/progress.js';
import { ServerClient } from '../lib/server-client.js';
import { fetchLimited } from '../lib/static-client.js';
import { uploadArtifact } from '../lib/upload.js';

export interface PublishOptions {
  server?: string;
  tokenFile?: string;
  ca?: string;
  skipArtifacts?: boolean;
  /** Only add our signatures to a version already on the server (after `pull`). */
  signaturesOnly?: boolean;
}

export function readToken(ctx: Context, opts: { tokenFile?: string }): string {
  const file = opts.tokenFile ?? ctx.config.server.tokenFile;
  if (file) {
    try {
      const token = readFileSync(expandPath(file), 'utf8').trim();
      if (token) return token;
    } catch (err) {
      throw fsError(err, `token file ${file}`);
    }
    throw new CliError('USAGE', `token file ${file} is empty`);
  }
  const fromEnv = process.env[ctx.config.server.tokenEnv];
  if (fromEnv) return fromEnv;
  throw new CliError(
    'USAGE',
    `no API token: use --token-file, server.tokenFile or $${ctx.config.server.tokenEnv}`,
  );
}

/** Every signature must verify before anything leaves the machine. */
function requireSigned(
  ctx: Context,
  bytes: Buffer,
  caDir: string | undefined,
): Array<{ name: string; bytes: Buffer }> {
  const signatures = ctx.workspace.signatureFiles();
  if (signatures.length === 0)
    throw new CliError('NOT_SIGNED', "the catalog has no signature: run 'tsw-endorse sign' first");
  let anchors: ReturnType<typeof loadTrustAnchors>;
  try {
    anchors = loadTrustAnchors({
      caPath: expandPath(caDir ?? ctx.config.verify.caPath),
      crlPolicy: ctx.config.verify.crlPolicy,
    });
  } catch (err) {
    throw new CliError(
      'VERIFY_FAILED',
      `cannot check the signatures before publishing: ${reasonsOf(err)[0]?.message} (use --ca DIR)`,
    );
  }
  const bad = signatures.flatMap((s) => {
    try {
      verifyDetached(bytes, s.bytes, anchors);
      return [];
    } catch (err) {
      return reasonsOf(err).map((r) => `${s.name}: ${r.code}: ${r.message}`);
    }
  });
  if (bad.length > 0)
    throw new CliError(
      'VERIFY_FAILED',
      `refusing to publish: ${bad[0]}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`,
      bad,
    );
  return signatures;
}

async function publishTorrents(ctx: Context, client: ServerClient, catalog: Catalog): Promise<string[]> {
  const sent: string[] = [];
  for (const entry of catalog.entries) {
    if (!entry.artifact) continue;
    const path = ctx.workspace.torrentPath(entry.artifact.infoHash);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw fsError(err, `torrent of ${entry.name}`);
    }
    if (sha256Hex(bytes) !== entry.artifact.torrent.sha256)
      throw new CliError('ARTIFACT_CHANGED', `${path} is not the torrent the catalog pins (sha256 differs)`);
    const res = await client.send('PUT', `/torrents/${entry.artifact.infoHash}`, {
      headers: { 'content-type': 'application/x-bittorrent' },
      body: bytes,
    });
    await client.expectOk(res, `torrent of ${entry.name}`);
    sent.push(entry.artifact.infoHash);
  }
  return sent;
}

async function publishArtifacts(ctx: Context, client: ServerClient, catalog: Catalog) {
  const sources = ctx.workspace.readSources().artifacts;
  const results = [];
  for (const entry of catalog.entries) {
    if (!entry.artifact) continue;
    const { sha256, size } = entry.artifact;
    const source = sources[sha256];
    if (!source)
      throw new CliError(
        'NOT_FOUND',
        `${entry.name} ${entry.version}: no local copy of artifact ${sha256} (use --skip-artifacts if the server has it)`,
      );
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(source.path);
    } catch (err) {
      throw fsError(err, `artifact ${source.path}`);
    }
    if (st.size !== size || st.mtimeMs !== source.mtimeMs)
      throw new CliError(
        'ARTIFACT_CHANGED',
        `${source.path} changed since it was added (size or time differ): add it again`,
      );
    const progress = startProgress(`uploading ${basename(source.path)}`, size, ctx.interactive);
    const result = await uploadArtifact(
      client,
      { path: source.path, sha256, sizeBytes: size },
      { retries: ctx.config.server.uploadRetries, onProgress: (n) => progress.update(n) },
    ).finally(() => progress.stop());
    results.push({ name: entry.name, ...result });
  }
  return results;
}

/**
 * When the version was already on the server (a second endorser publishing), the server
 * keeps its copy: each of our signatures it does not list is added on its own.
 */
async function addMissingSignatures(
  client: ServerClient,
  catalog: Catalog,
  signatures: Array<{ name: string; bytes: Buffer }>,
  answer: { signatures?: Array<{ signerCertSha256?: string }> },
): Promise<string[]> {
  const known = new Set((answer.signatures ?? []).map((s) => `${s.signerCertSha256}.p7s`));
  const added: string[] = [];
  for (const s of signatures) {
    if (known.has(s.name)) continue;
    const res = await client.send('POST', `/catalogs/${catalog.id}/versions/${catalog.version}/signatures`, {
      headers: { 'content-type': 'application/pkcs7-signature' },
      body: s.bytes,
    });
    await client.expectOk(res, `signature ${s.name}`);
    await res.body?.cancel();
    added.push(s.name);
  }
  return added;
}

export async function publish(ctx: Context, opts: PublishOptions): Promise<CommandResult> {
  const serverUrl = opts.server ?? ctx.config.server.url;
  if (!serverUrl) throw new CliError('USAGE', 'no server: use --server URL or server.url in the config');
  const { catalog, bytes } = ctx.workspace.readCatalog();
  if (Date.parse(catalog.expires) <= Date.now())
    throw new CliError(
      'CATALOG_INVALID',
      `catalog expired at ${catalog.expires}: set a new expiry and sign again`,
    );
  const signatures = requireSigned(ctx, bytes, opts.ca);
  const client = new ServerClient({
    baseUrl: serverUrl,
    token: readToken(ctx, opts),
    timeoutSeconds: ctx.config.server.timeoutSeconds,
  });

  if (opts.signaturesOnly) {
    const indexUrl = `${serverUrl.replace(/\/+$/, '')}/catalogs/${catalog.id}/${catalog.version}/signatures/index.json`;
    const listed = JSON.parse(
      (await fetchLimited(indexUrl, 1024 * 1024, ctx.config.server.timeoutSeconds)).toString('utf8'),
    ) as unknown;
    const known = Array.isArray(listed) ? listed.map((v) => ({ signerCertSha256: String(v) })) : [];
    const added = await addMissingSignatures(client, catalog, signatures, { signatures: known });
    return {
      data: {
        server: serverUrl,
        catalog: { id: catalog.id, version: catalog.version },
        signaturesAdded: added,
      },
      text: `added ${added.length} signature(s) to ${catalog.name} version ${catalog.version} on ${serverUrl}`,
    };
  }
  const torrents = await publishTorrents(ctx, client, catalog);
  const artifacts = opts.skipArtifacts ? [] : await publishArtifacts(ctx, client, catalog);
  const form = new FormData();
  form.append('catalog', new Blob([bytes], { type: 'application/yaml' }), 'catalog.yaml');
  for (const s of signatures)
    form.append('signature', new Blob([s.bytes], { type: 'application/pkcs7-signature' }), s.name);
  const res = await client.send('POST', '/catalogs', { body: form });
  await client.expectOk(res, `catalog ${catalog.name} v${catalog.version}`);
  const answer = (await res.json().catch(() => ({}))) as {
    signatures?: Array<{ signerCertSha256?: string }>;
  };
  const added = await addMissingSignatures(client, catalog, signatures, answer);
  const data = {
    server: serverUrl,
    catalog: {
      id: catalog.id,
      version: catalog.version,
      sha256: sha256Hex(bytes),
      status: res.status,
      answer,
    },
    signatures: signatures.map((s) => s.name),
    signaturesAdded: added,
    torrents,
    artifacts,
  };
  const lines = [
    `published ${catalog.name} version ${catalog.version} to ${serverUrl} (${res.status === 201 ? 'new' : 'already there'})`,
    `  ${signatures.length} signature(s), ${torrents.length} torrent(s)`,
    ...artifacts.map(
      (a) =>
        `  ${a.name}: ${a.alreadyStored ? 'already stored' : `sent ${a.sentBytes} bytes in ${a.attempts} attempt(s)`}`,
    ),
  ];
  return { data, text: lines.join('\n') };
}
