// add container-image REF: records the reference and the manifest digest resolved from the
// registry; the bridge publishes it into CVMFS at --repository (DUCC-style path).

import { randomUUID } from 'node:crypto';
import type { CatalogEntry } from '@trustswarm/policy';
import type { CommandResult, Context } from '../lib/context.js';
import { commonFields, type EntryOptions, requireNoDuplicate, requireValidFields } from '../lib/entries.js';
import { formatReference, parseImageReference } from '../lib/oci-reference.js';
import { resolveManifest } from '../lib/registry-client.js';

export interface AddContainerOptions extends EntryOptions {
  repository: string;
  path?: string;
  insecure?: boolean;
  username?: string;
}

export async function addContainerImage(
  ctx: Context,
  refText: string,
  opts: AddContainerOptions,
): Promise<CommandResult> {
  const ref = parseImageReference(refText);
  const name = opts.name ?? ref.repository.split('/').pop() ?? 'image';
  const version = opts.entryVersion ?? ref.tag ?? ref.digest?.slice(7, 19) ?? 'latest';
  const base: Partial<CatalogEntry> = {
    kind: 'container-image',
    name,
    version,
    ...(opts.id ? { id: opts.id } : {}),
    cvmfs: {
      repository: opts.repository,
      path: opts.path ?? `/${ref.registry}/${ref.repository}:${version}`,
    },
    ...commonFields(opts),
  };
  requireValidFields({
    ...base,
    oci: { reference: formatReference(ref), digest: `sha256:${'0'.repeat(64)}` },
  });
  requireNoDuplicate(ctx.workspace.readCatalog().catalog, base);
  const registry = ctx.config.registry;
  const manifest = await resolveManifest(ref, {
    insecure: opts.insecure === true || registry.insecureHosts.includes(ref.registry),
    timeoutSeconds: registry.timeoutSeconds,
    maxManifestBytes: registry.maxManifestBytes,
    username: opts.username,
    password: opts.username ? process.env[registry.passwordEnv] : undefined,
  });
  const entry = {
    ...base,
    id: opts.id ?? randomUUID(),
    oci: { reference: formatReference({ ...ref, digest: undefined }), digest: manifest.digest },
  } as CatalogEntry;
  const { catalog } = ctx.workspace.update((c) => {
    requireNoDuplicate(c, entry);
    c.entries.push(entry);
  });
  return {
    data: { entry, catalogVersion: catalog.version, mediaType: manifest.mediaType },
    text: `added ${entry.oci?.reference}@${manifest.digest} (${manifest.mediaType})\ncatalog is now version ${catalog.version}`,
  };
}
