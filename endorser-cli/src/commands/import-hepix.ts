// import-hepix FILE: a verified HEPiX image list becomes catalog entries. Each image whose
// file is found in --files DIR is hashed (its sha512 must equal the list's); the others are
// reported as pending. The catalog is created from the list when the workspace has none.

import { randomUUID } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Catalog, CatalogEntry } from '@trustswarm/policy';
import { expandPath } from '../lib/config.js';
import type { CommandResult, Context } from '../lib/context.js';
import {
  commitEntries,
  nameFromFile,
  type PreparedArtifact,
  prepareArtifact,
  requireValidFields,
} from '../lib/entries.js';
import { EXIT, fsError } from '../lib/errors.js';
import { verifyImageList } from '../lib/hepix.js';
import { isoSeconds } from '../lib/workspace.js';

export interface ImportOptions {
  ca?: string;
  files?: string;
  name?: string;
}

type Json = Record<string, unknown>;
const str = (o: Json, k: string): string | undefined =>
  typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MiB = 1024 * 1024;

function entryFromImage(image: Json, vo: string | undefined): Omit<CatalogEntry, 'artifact'> {
  const uri = str(image, 'hv:uri') ?? '';
  const id = str(image, 'dc:identifier')?.toLowerCase();
  const ram = Number(str(image, 'hv:ram_minimum'));
  const cores = Number(str(image, 'hv:core_minimum'));
  const imageFields = {
    ...(str(image, 'sl:osname') || str(image, 'sl:os')
      ? { os: str(image, 'sl:osname') ?? str(image, 'sl:os') }
      : {}),
    ...(str(image, 'sl:osversion') ? { osVersion: str(image, 'sl:osversion') } : {}),
    ...(str(image, 'sl:arch') ? { arch: str(image, 'sl:arch') } : {}),
    ...(str(image, 'hv:hypervisor') ? { hypervisor: str(image, 'hv:hypervisor')?.toLowerCase() } : {}),
    ...(str(image, 'hv:format') ? { format: str(image, 'hv:format') } : {}),
    ...(Number.isInteger(ram) && ram > 0 ? { ramMinimumBytes: ram * MiB } : {}),
    ...(Number.isInteger(cores) && cores > 0 ? { coreMinimum: cores } : {}),
  };
  return {
    id: id && UUID.test(id) ? id : randomUUID(),
    kind: 'vm-image',
    name: nameFromFile(new URL(uri, 'https://invalid.example/').pathname.split('/').pop() || 'image'),
    version: str(image, 'hv:version') ?? '1',
    ...(str(image, 'dc:title') ? { title: str(image, 'dc:title') } : {}),
    ...(str(image, 'dc:description') ? { description: str(image, 'dc:description') } : {}),
    ...(Object.keys(imageFields).length ? { image: imageFields as CatalogEntry['image'] } : {}),
    ...(vo && /^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(vo) ? { voTags: [vo] } : {}),
  } as Omit<CatalogEntry, 'artifact'>;
}

function ensureCatalog(ctx: Context, list: Json, opts: ImportOptions): void {
  if (ctx.workspace.hasCatalog()) return;
  const now = new Date();
  const listId = str(list, 'dc:identifier')?.toLowerCase();
  const title = opts.name ?? nameFromFile(str(list, 'dc:title') ?? 'hepix-import');
  const catalog: Catalog = {
    apiVersion: 'trustswarm/v1',
    kind: 'Catalog',
    id: listId && UUID.test(listId) ? listId : randomUUID(),
    name: title,
    version: 1,
    issued: isoSeconds(now),
    expires: isoSeconds(new Date(now.getTime() + ctx.config.catalog.lifetimeDays * 24 * 3600_000)),
    ...(str(list, 'dc:description') ? { description: str(list, 'dc:description') } : {}),
    entries: [],
  };
  ctx.workspace.create(catalog);
}

export async function importHepix(ctx: Context, file: string, opts: ImportOptions): Promise<CommandResult> {
  const caPath = expandPath(opts.ca ?? ctx.config.verify.caPath);
  try {
    accessSync(resolve(file), constants.R_OK);
  } catch (err) {
    throw fsError(err, `image list ${file}`);
  }
  const verified = await verifyImageList(resolve(file), caPath, {
    crlCheck: ctx.config.verify.crlPolicy === 'require',
  });
  const list = verified.list;
  const images = Array.isArray(list['hv:images']) ? (list['hv:images'] as Json[]) : [];
  const vo = str(list, 'ad:vo');
  const filesDir = opts.files ? resolve(opts.files) : undefined;
  ensureCatalog(ctx, list, opts);

  const results: Array<{ title: string | undefined; status: string; detail?: string; id?: string }> = [];
  const accepted: Array<{ entry: CatalogEntry; prepared: PreparedArtifact }> = [];
  for (const wrapper of images) {
    const image = (wrapper?.['hv:image'] ?? {}) as Json;
    const title = str(image, 'dc:title');
    const base = entryFromImage(image, vo);
    const sha512 = str(image, 'sl:checksum:sha512')?.toLowerCase();
    const uri = str(image, 'hv:uri');
    const fileName = uri ? basename(new URL(uri, 'https://invalid.example/').pathname) : undefined;
    const local = filesDir && fileName ? join(filesDir, fileName) : undefined;
    if (!local || !existsSync(local)) {
      results.push({
        title,
        status: 'pending',
        detail: `no local file ${fileName ?? '(no hv:uri)'}: add it later with 'add image'`,
      });
      continue;
    }
    requireValidFields(base);
    const prepared = await prepareArtifact(ctx, local, { sha512: true });
    if (prepared.artifact.sha512 !== sha512) {
      results.push({
        title,
        status: 'rejected',
        detail: `${local}: sha512 differs from the list's sl:checksum:sha512`,
      });
      continue;
    }
    const size = Number(str(image, 'hv:size'));
    if (Number.isFinite(size) && size !== prepared.artifact.size) {
      results.push({
        title,
        status: 'rejected',
        detail: `${local}: ${prepared.artifact.size} bytes, the list says ${size}`,
      });
      continue;
    }
    accepted.push({
      entry: { ...base, artifact: prepared.artifact, produced: prepared.produced } as CatalogEntry,
      prepared,
    });
    results.push({ title, status: 'imported', id: base.id });
  }
  const version = accepted.length
    ? commitEntries(ctx, accepted)
    : ctx.workspace.readCatalog().catalog.version;
  const rejected = results.filter((r) => r.status === 'rejected').length;
  const data = {
    signer: verified.signer,
    digestAlgorithms: verified.digestAlgorithms,
    warnings: verified.warnings,
    images: results,
    catalogVersion: version,
  };
  const lines = [
    `image list ${str(list, 'dc:title') ?? ''} signed by ${verified.signer.subject} (digest ${verified.digestAlgorithms.join(', ') || '?'})`,
    ...verified.warnings.map((w) => `warning: ${w}`),
    ...results.map((r) => `  ${r.status.padEnd(8)} ${r.title ?? '?'}${r.detail ? `: ${r.detail}` : ''}`),
    `catalog is now version ${version}; review it, then sign`,
  ];
  return { data, text: lines.join('\n'), exitCode: rejected > 0 ? EXIT.verification : EXIT.ok };
}
