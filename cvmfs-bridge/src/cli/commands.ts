// The `repo …` subcommands: each turns parsed options into one library call and one result.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { CvmfsServerPublisher } from '../backend/cvmfs-server.js';
import { NativePublisher } from '../backend/native.js';
import type { Publisher, PublishSource } from '../backend/publisher.js';
import type { Dirent } from '../catalog/dirent.js';
import { clientConfig } from '../client-config.js';
import type { BridgeConfig } from '../config.js';
import { BridgeError } from '../errors.js';
import { HttpFetcher, LocalFetcher } from '../reader/fetcher.js';
import { RepositoryReader } from '../reader/reader.js';
import { verifyRevision } from '../reader/verify-all.js';
import { changeTags, listTags, resignWhitelist } from '../repo/admin.js';
import { collectGarbage } from '../repo/gc.js';
import { type RepoSettings, Repository } from '../repo/repository.js';
import { emit } from './output.js';

export function settingsOf(config: BridgeConfig): RepoSettings {
  return {
    storageDir: config.storageDir,
    stateDir: config.stateDir,
    compressionLevel: config.compressionLevel,
    workers: config.workers,
    maxCatalogEntries: config.maxCatalogEntries,
    ttlSeconds: config.ttlSeconds,
    whitelistDays: config.whitelistDays,
    lockWaitSeconds: config.lockWaitSeconds,
  };
}

export function createRepo(config: BridgeConfig, fqrn: string, json: boolean): void {
  const repo = Repository.create(fqrn, settingsOf(config));
  const m = repo.manifest();
  emit(
    json,
    { fqrn, revision: m.revision, publicDir: repo.layout.publicDir, stateDir: repo.layout.stateDir },
    () =>
      [
        `created ${fqrn} (revision ${m.revision})`,
        `  public: ${repo.layout.publicDir}`,
        `  keys:   ${repo.layout.stateDir}`,
      ].join('\n'),
  );
}

function publisherFor(config: BridgeConfig): Publisher {
  return config.backend === 'cvmfs_server'
    ? new CvmfsServerPublisher({ command: config.cvmfsServerCommand })
    : new NativePublisher(settingsOf(config));
}

export async function publish(
  config: BridgeConfig,
  fqrn: string,
  sourcePath: string,
  opts: { path?: string; tag?: string; checksum?: boolean; allowAbsoluteSymlinks?: boolean },
  json: boolean,
): Promise<void> {
  let source: PublishSource;
  if (sourcePath === '-') source = { kind: 'tar', path: '-' };
  else {
    let isDir: boolean;
    try {
      isDir = statSync(sourcePath).isDirectory();
    } catch {
      throw new BridgeError('NOT_FOUND', `source ${sourcePath} does not exist`);
    }
    source = { kind: isDir ? 'dir' : 'tar', path: sourcePath };
  }
  const started = Date.now();
  const summary = await publisherFor(config).publish({
    fqrn,
    source,
    path: opts.path ?? '/',
    ...(opts.tag ? { tag: opts.tag } : {}),
    checksum: opts.checksum ?? false,
    allowAbsoluteSymlinks: opts.allowAbsoluteSymlinks ?? false,
  });
  const seconds = (Date.now() - started) / 1000;
  emit(json, { ...summary, seconds }, () =>
    summary.revision === undefined
      ? `published ${fqrn} through cvmfs_server in ${seconds.toFixed(1)} s`
      : `published ${fqrn} revision ${summary.revision}: ${summary.filesStored} files stored, ${summary.catalogsWritten} catalogs written, ${seconds.toFixed(1)} s`,
  );
}

export async function openReader(
  config: BridgeConfig,
  fqrn: string,
  opts: { url?: string; key?: string[] } = {},
): Promise<RepositoryReader> {
  const keys = opts.key && opts.key.length > 0 ? opts.key.map((k) => readFileSync(k, 'utf8')) : undefined;
  if (opts.url) {
    if (!keys) throw new BridgeError('BAD_INPUT', '--url needs --key with the repository master public key');
    return RepositoryReader.open(new HttpFetcher(opts.url), { fqrn, masterPublicKeysPem: keys });
  }
  const repo = Repository.open(fqrn, settingsOf(config));
  return RepositoryReader.open(new LocalFetcher(repo.layout.publicDir), {
    fqrn,
    masterPublicKeysPem: keys ?? [repo.masterPublicKey()],
  });
}

function typeChar(d: Dirent): string {
  return { dir: 'd', file: '-', symlink: 'l', special: 'c' }[d.kind];
}

export async function ls(
  config: BridgeConfig,
  fqrn: string,
  path: string,
  opts: { url?: string; key?: string[] },
  json: boolean,
) {
  const reader = await openReader(config, fqrn, opts);
  try {
    const entries = await reader.list(path);
    emit(
      json,
      entries.map((e) => ({
        ...e,
        xattrs: e.xattrs
          ? Object.fromEntries([...e.xattrs].map(([k, v]) => [k, v.toString('base64')]))
          : undefined,
      })),
      () =>
        entries
          .map(
            (e) =>
              `${typeChar(e)}${(e.mode & 0o7777).toString(8).padStart(4, '0')} ${String(e.sizeBytes).padStart(12)} ${e.name}${e.symlink ? ` -> ${e.symlink}` : ''}`,
          )
          .join('\n'),
    );
  } finally {
    reader.close();
  }
}

export async function cat(
  config: BridgeConfig,
  fqrn: string,
  path: string,
  opts: { url?: string; key?: string[] },
  out: Writable,
) {
  const reader = await openReader(config, fqrn, opts);
  try {
    await reader.streamFile(path, out);
  } finally {
    reader.close();
  }
}

export async function verify(
  config: BridgeConfig,
  fqrn: string,
  opts: { url?: string; key?: string[] },
  json: boolean,
) {
  const reader = await openReader(config, fqrn, opts);
  try {
    const report = await verifyRevision(reader);
    const expiresAt = reader.trusted.whitelist.expiresAt.toISOString();
    emit(
      json,
      { ok: true, ...report, whitelistExpiresAt: expiresAt },
      () =>
        `ok: ${fqrn} revision ${report.revision}: ${report.catalogs} catalogs, ${report.entries} entries, ${report.files} files (${report.fileBytes} bytes), ${report.objectsChecked} objects verified; whitelist valid until ${expiresAt}`,
    );
  } finally {
    reader.close();
  }
}

export function tag(
  config: BridgeConfig,
  fqrn: string,
  opts: { add?: string; remove?: string; description?: string; rootHash?: string },
  json: boolean,
) {
  const repo = Repository.open(fqrn, settingsOf(config));
  const tags =
    opts.add || opts.remove
      ? changeTags(repo, {
          ...(opts.add
            ? {
                add: {
                  name: opts.add,
                  ...(opts.description ? { description: opts.description } : {}),
                  ...(opts.rootHash ? { rootHash: opts.rootHash } : {}),
                },
              }
            : {}),
          ...(opts.remove ? { remove: opts.remove } : {}),
        })
      : listTags(repo);
  emit(json, tags, () =>
    tags.length === 0
      ? '(no tags)'
      : tags
          .map(
            (t) =>
              `${t.name}\trevision ${t.revision}\t${t.rootHash}\t${new Date(t.timestamp * 1000).toISOString()}\t${t.description}`,
          )
          .join('\n'),
  );
}

export function resign(
  config: BridgeConfig,
  fqrn: string,
  opts: { days?: number; ifExpiresWithin?: number },
  json: boolean,
) {
  const repo = Repository.open(fqrn, settingsOf(config));
  const result = resignWhitelist(repo, {
    ...(opts.days ? { days: opts.days } : {}),
    ...(opts.ifExpiresWithin !== undefined ? { onlyWithinDays: opts.ifExpiresWithin } : {}),
  });
  emit(json, result, () =>
    result.resigned
      ? `whitelist re-signed, valid until ${result.expiresAt.toISOString()}`
      : `whitelist still valid until ${result.expiresAt.toISOString()}; not re-signed`,
  );
}

export function gc(
  config: BridgeConfig,
  fqrn: string,
  opts: { graceSeconds?: number; dryRun?: boolean },
  json: boolean,
) {
  const repo = Repository.open(fqrn, settingsOf(config));
  const report = collectGarbage(repo, {
    graceSeconds: opts.graceSeconds ?? config.gcGraceSeconds,
    dryRun: opts.dryRun ?? false,
  });
  emit(
    json,
    report,
    () =>
      `${opts.dryRun ? 'would delete' : 'deleted'} ${report.objectsDeleted} objects (${report.bytesFreed} bytes); kept ${report.objectsKept} objects of ${report.revisionsKept} revisions`,
  );
}

export function printClientConfig(config: BridgeConfig, fqrn: string, opts: { url?: string }, json: boolean) {
  const repo = Repository.open(fqrn, settingsOf(config));
  const url = (opts.url ?? config.publicUrl).replace('@fqrn@', fqrn);
  const result = clientConfig(fqrn, url, repo.masterPublicKey());
  emit(json, result, () => `${result.config}\n\n# ${result.keyPath}\n${result.publicKey.trimEnd()}`);
}

/** Serves until SIGINT/SIGTERM; re-signs expiring whitelists on a schedule while running. */
export async function serve(config: BridgeConfig, json: boolean): Promise<void> {
  // fastify is only loaded for `serve`, keeping every other command quick to start.
  const { startServer } = await import('../serve.js');
  const { app, url } = await startServer({
    storageDir: config.storageDir,
    host: config.serveHost,
    port: config.servePort,
  });
  emit(json, { url: `${url}/cvmfs/` }, () => `serving ${config.storageDir} at ${url}/cvmfs/`);
  const timer =
    config.resignCheckHours > 0
      ? setInterval(() => resignAll(config), config.resignCheckHours * 3_600_000)
      : undefined;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  if (timer) clearInterval(timer);
  await app.close();
}

function resignAll(config: BridgeConfig): void {
  for (const fqrn of readdirSync(config.storageDir)) {
    try {
      // no wait: a busy repository is checked again next time, the server does not stall
      const settings = { ...settingsOf(config), lockWaitSeconds: 0 };
      resignWhitelist(Repository.open(fqrn, settings), { onlyWithinDays: config.resignWithinDays });
    } catch (error) {
      process.stderr.write(`tsw-bridge: whitelist check of ${fqrn} failed: ${(error as Error).message}\n`);
    }
  }
}
