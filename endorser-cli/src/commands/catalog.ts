// catalog new | show | set-expiry | remove: the catalog's header and its list of entries.

import { randomUUID } from 'node:crypto';
import { type Catalog, DEFAULT_LIMITS } from '@trustswarm/policy';
import type { CommandResult, Context } from '../lib/context.js';
import { CliError } from '../lib/errors.js';
import { loadIdentityCertificate } from '../lib/identity.js';
import { isoSeconds } from '../lib/workspace.js';

const DAY_MS = 24 * 3600 * 1000;

export function catalogNew(
  ctx: Context,
  name: string,
  opts: { description?: string; lifetimeDays?: number; id?: string },
): CommandResult {
  const now = new Date();
  const lifetimeDays = opts.lifetimeDays ?? ctx.config.catalog.lifetimeDays;
  const cert = loadIdentityCertificate(ctx.config);
  const endorserName = ctx.config.catalog.endorserName;
  const catalog: Catalog = {
    apiVersion: 'trustswarm/v1',
    kind: 'Catalog',
    id: opts.id ?? randomUUID(),
    name,
    version: 1,
    issued: isoSeconds(now),
    expires: isoSeconds(new Date(now.getTime() + lifetimeDays * DAY_MS)),
    ...(opts.description ? { description: opts.description } : {}),
    ...(cert || endorserName
      ? {
          endorser: {
            ...(endorserName ? { name: endorserName } : {}),
            ...(cert ? { dn: cert.subject } : {}),
          },
        }
      : {}),
    entries: [],
  };
  ctx.workspace.create(catalog);
  return {
    data: { path: ctx.workspace.catalogPath, id: catalog.id, name, version: 1, expires: catalog.expires },
    text: `created catalog ${name} (${catalog.id}) version 1 in ${ctx.workspace.catalogPath}, expires ${catalog.expires}`,
  };
}

export function catalogShow(ctx: Context): CommandResult {
  const { catalog } = ctx.workspace.readCatalog();
  const signatures = ctx.workspace.signatureFiles().map((s) => s.name);
  const lines = [
    `catalog ${catalog.name} (${catalog.id}) version ${catalog.version}`,
    `issued ${catalog.issued}, expires ${catalog.expires}`,
    `signatures: ${signatures.length === 0 ? 'none' : signatures.join(', ')}`,
    `${catalog.entries.length} entr${catalog.entries.length === 1 ? 'y' : 'ies'}:`,
    ...catalog.entries.map(
      (e) =>
        `  ${e.id}  ${e.kind.padEnd(15)} ${e.name} ${e.version}  ${e.artifact ? `sha256:${e.artifact.sha256.slice(0, 16)}… ${e.artifact.size} bytes` : (e.oci?.digest ?? '')}`,
    ),
  ];
  return { data: { catalog, signatures }, text: lines.join('\n') };
}

/** Parses an absolute RFC 3339 time or a relative "+30d" / "+12h". */
export function parseExpiry(value: string, now = new Date()): Date {
  const relative = /^\+(\d+)([dh])$/.exec(value);
  if (relative) {
    const unitMs = relative[2] === 'd' ? DAY_MS : 3600_000;
    return new Date(now.getTime() + Number(relative[1]) * unitMs);
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(value))
    throw new CliError(
      'USAGE',
      `expiry ${JSON.stringify(value)}: expected a date like 2026-12-31T00:00:00Z or +30d`,
    );
  return new Date(ms);
}

export function catalogSetExpiry(ctx: Context, value: string): CommandResult {
  const now = new Date();
  const expires = parseExpiry(value, now);
  if (expires.getTime() <= now.getTime())
    throw new CliError('USAGE', `expiry ${isoSeconds(expires)} is in the past`);
  // Agents refuse catalogs living longer than policy's limit: refuse to write one.
  const maxMs = DEFAULT_LIMITS.maxCatalogLifetimeSeconds * 1000;
  if (expires.getTime() - now.getTime() > maxMs)
    throw new CliError(
      'USAGE',
      `expiry ${isoSeconds(expires)} is more than ${maxMs / DAY_MS} days away; agents would refuse the catalog`,
    );
  const { catalog } = ctx.workspace.update((c) => {
    c.expires = isoSeconds(expires);
  }, now);
  return {
    data: { version: catalog.version, expires: catalog.expires },
    text: `catalog ${catalog.name} version ${catalog.version} now expires ${catalog.expires}`,
  };
}

export function catalogRemove(ctx: Context, idOrName: string): CommandResult {
  let removed: Catalog['entries'][number] | undefined;
  const { catalog } = ctx.workspace.update((c) => {
    const matches = c.entries.filter((e) => e.id === idOrName || e.name === idOrName);
    if (matches.length === 0) throw new CliError('ENTRY_NOT_FOUND', `no entry ${idOrName} in the catalog`);
    if (matches.length > 1)
      throw new CliError('USAGE', `${idOrName} names ${matches.length} entries: give the entry id`);
    removed = matches[0];
    c.entries = c.entries.filter((e) => e !== removed);
  });
  return {
    data: { removed: removed?.id, version: catalog.version },
    text: `removed ${removed?.name} ${removed?.version} (${removed?.id}); catalog is now version ${catalog.version}`,
  };
}
