// pull ID VERSION: fetches a published catalog version and its signatures from the static
// layout (no token needed), so a second endorser can check it, sign the same bytes and
// publish only their signature (`publish --signatures-only`).

import type { CommandResult, Context } from '../lib/context.js';
import { CliError } from '../lib/errors.js';
import { fetchLimited } from '../lib/static-client.js';

const MAX_CATALOG_BYTES = 16 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 1024 * 1024;
const SIGNER_SHA = /^[0-9a-f]{64}$/;

export async function pull(
  ctx: Context,
  id: string,
  version: string,
  opts: { server?: string },
): Promise<CommandResult> {
  const base = opts.server ?? ctx.config.server.url;
  if (!base) throw new CliError('USAGE', 'no server: use --server URL or server.url in the config');
  if (!/^[0-9a-f-]{36}$/.test(id) || !/^\d+$/.test(version))
    throw new CliError('USAGE', 'pull needs a catalog id (UUID) and a version number');
  const dir = `${base.replace(/\/+$/, '')}/catalogs/${id}/${version}`;
  const timeoutSeconds = ctx.config.server.timeoutSeconds;
  const bytes = await fetchLimited(`${dir}/catalog.yaml`, MAX_CATALOG_BYTES, timeoutSeconds);
  const index = JSON.parse(
    (await fetchLimited(`${dir}/signatures/index.json`, MAX_SIGNATURE_BYTES, timeoutSeconds)).toString(
      'utf8',
    ),
  ) as unknown;
  if (!Array.isArray(index) || !index.every((v) => typeof v === 'string' && SIGNER_SHA.test(v)))
    throw new CliError('SERVER_REJECTED', `${dir}/signatures/index.json: expected a list of sha256 values`);
  const signatures = [];
  for (const signer of index as string[]) {
    const name = `${signer}.p7s`;
    signatures.push({
      name,
      bytes: await fetchLimited(`${dir}/signatures/${name}`, MAX_SIGNATURE_BYTES, timeoutSeconds),
    });
  }
  const catalog = ctx.workspace.adopt(bytes, signatures);
  return {
    data: {
      id: catalog.id,
      version: catalog.version,
      signatures: signatures.map((s) => s.name),
      path: ctx.workspace.catalogPath,
    },
    text: `pulled ${catalog.name} version ${catalog.version} with ${signatures.length} signature(s) into ${ctx.workspace.catalogPath}\ncheck it with 'tsw-endorse verify', then 'sign' and 'publish --signatures-only'`,
  };
}
