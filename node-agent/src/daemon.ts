// The agent's loop and the one owner of its mutable state: each tick syncs the approval,
// starts downloads for selected entries, and moves unapproved entries through the grace
// period to archive/removal. Transfers run in the background and report back here.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApprovedEntry, SiteVerifier, TransferEngine } from '@trustswarm/fetch';
import {
  FetchError,
  ImageStore,
  LayoutClient,
  readTorrentInfo,
  SiteSync,
  type SyncOutcome,
  selectForHost,
} from '@trustswarm/fetch';
import type { Logger } from 'pino';
import type { AgentConfig } from './config.js';
import { errorCode, errorMessage } from './errors.js';
import { type HookEvent, runHooks } from './hooks.js';
import { type AgentState, type InstalledEntry, loadState, saveState } from './state.js';

export interface JobStatus {
  entryId: string;
  name: string;
  infoHash: string;
  state: 'fetching' | 'downloading' | 'installing' | 'failed';
  error?: { code: string; message: string };
  /** set when the entry stopped being approved while the job ran */
  cancelled?: boolean;
}

export interface DaemonDeps {
  config: AgentConfig;
  engine: TransferEngine;
  verifier: SiteVerifier;
  logger: Logger;
  now?: () => Date;
}

export class AgentDaemon {
  readonly store: ImageStore;
  private state: AgentState = { entries: {} };
  private readonly jobs = new Map<string, JobStatus>();
  private readonly sync: SiteSync;
  private readonly layout: LayoutClient;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  lastSync: (SyncOutcome & { at: string }) | undefined;
  private stopped = false;

  constructor(private readonly deps: DaemonDeps) {
    const { config } = deps;
    this.store = new ImageStore(config.dataDir);
    this.layout = new LayoutClient({
      baseUrl: config.layoutUrl,
      timeoutSeconds: config.poll.timeoutSeconds,
      maxApprovalBytes: config.poll.maxApprovalBytes,
      maxCatalogBytes: config.poll.maxCatalogBytes,
      maxSignatureBytes: config.poll.maxSignatureBytes,
      maxTorrentBytes: config.poll.maxTorrentBytes,
    });
    this.sync = new SiteSync(
      config.site,
      this.layout,
      deps.verifier,
      join(config.dataDir, 'cache'),
      config.poll.maxSignaturesPerCatalog,
    );
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private get statePath(): string {
    return join(this.deps.config.dataDir, 'state.json');
  }

  private torrentCachePath(infoHash: string): string {
    return join(this.deps.config.dataDir, 'torrents', `${infoHash}.torrent`);
  }

  async start(): Promise<void> {
    await this.store.init();
    await mkdir(join(this.deps.config.dataDir, 'torrents'), { recursive: true });
    this.state = await loadState(this.statePath);
    for (const entry of Object.values(this.state.entries)) await this.seedInstalled(entry);
    const restored = await this.sync.restore(this.now());
    this.deps.logger.info({ outcome: restored }, 'cached approval checked');
    await this.tick();
  }

  /** One poll; the next is scheduled after it ends (never overlapping). */
  async tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.runTick().finally(() => {
      this.ticking = undefined;
      if (this.stopped) return;
      clearTimeout(this.timer);
      const ok = this.lastSync?.kind !== 'unreachable' && this.lastSync?.kind !== 'refused';
      const seconds = ok ? this.deps.config.poll.intervalSeconds : this.deps.config.poll.retrySeconds;
      this.timer = setTimeout(() => void this.tick(), seconds * 1000);
    });
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    const now = this.now();
    const outcome = await this.sync.refresh(now);
    this.lastSync = { ...outcome, at: now.toISOString() };
    const log = this.deps.logger;
    if (outcome.kind === 'refused') log.warn({ code: outcome.code }, `approval refused: ${outcome.message}`);
    else if (outcome.kind === 'unreachable')
      log.warn({ code: outcome.code }, `layout unreachable: ${outcome.message}`);
    else if (outcome.kind === 'updated') {
      const verified = this.sync.verified;
      log.info({ version: verified?.version }, 'approval updated');
      for (const r of verified?.refused ?? []) {
        log.warn({ entryId: r.entryId, reasons: r.reasons }, 'approved entry refused by policy');
      }
    }

    const wanted = selectForHost(this.sync.approvedEntries(now), this.deps.config.host);
    const wantedIds = new Set(wanted.map((w) => w.entry.id));
    await this.cancelUnwantedJobs(wantedIds);
    for (const approved of wanted) this.ensureInstalled(approved);
    await this.applyLifecycle(wantedIds, now);
  }

  /** A download whose entry was revoked stops at once and leaves no staging data. */
  private async cancelUnwantedJobs(wantedIds: Set<string>): Promise<void> {
    for (const [entryId, job] of [...this.jobs]) {
      if (wantedIds.has(entryId)) continue;
      // Hashing and renaming are short; the lifecycle retires the result on the next poll.
      if (job.state === 'installing') {
        this.jobs.delete(entryId);
        continue;
      }
      job.cancelled = true;
      await this.deps.engine.close(job.infoHash);
      await this.store.clearStaging(job.infoHash);
      // Only now: status never shows a job as gone while its staging data still exists.
      this.jobs.delete(entryId);
      this.deps.logger.info({ entryId }, 'download cancelled: entry no longer approved');
    }
  }

  private ensureInstalled(approved: ApprovedEntry): void {
    const { entry } = approved;
    const installed = this.state.entries[entry.id];
    if (installed && installed.sha256 === entry.artifact?.sha256) {
      if (installed.unapprovedSince) {
        delete installed.unapprovedSince;
        void this.persist();
      }
      return;
    }
    const job = this.jobs.get(entry.id);
    if (job && job.state !== 'failed') return;
    const artifact = entry.artifact;
    if (!artifact) return;
    // Another entry with the same artifact: wait for its download, or link its verified copy.
    const active = [...this.jobs.values()].filter((j) => j.state !== 'failed' && j.entryId !== entry.id);
    if (active.some((j) => j.infoHash === artifact.infoHash)) return;
    const twin = Object.values(this.state.entries).find(
      (e) => e.entryId !== entry.id && e.infoHash === artifact.infoHash && e.sha256 === artifact.sha256,
    );
    if (!twin && active.length >= this.deps.config.transfer.maxParallelDownloads) return;
    void this.install(approved, twin);
  }

  private async install(approved: ApprovedEntry, twin?: InstalledEntry): Promise<void> {
    const { entry } = approved;
    const artifact = entry.artifact;
    if (!artifact) return;
    const job: JobStatus = {
      entryId: entry.id,
      name: entry.name,
      infoHash: artifact.infoHash,
      state: 'fetching',
    };
    this.jobs.set(entry.id, job);
    const log = this.deps.logger.child({ entryId: entry.id, infoHash: artifact.infoHash });
    try {
      const { path, fileName } = twin
        ? {
            fileName: twin.fileName,
            path: await this.store.installLinked({
              entryId: entry.id,
              from: twin.path,
              fileName: twin.fileName,
              expectedSha256: artifact.sha256,
            }),
          }
        : await this.downloadAndInstall(entry.id, artifact, job, log);
      if (job.cancelled) return;
      const installed: InstalledEntry = {
        entryId: entry.id,
        catalogId: approved.catalogId,
        catalogVersion: approved.catalogVersion,
        kind: entry.kind,
        name: entry.name,
        version: entry.version,
        infoHash: artifact.infoHash,
        sha256: artifact.sha256,
        sizeBytes: artifact.size,
        fileName,
        path,
        installedAt: this.now().toISOString(),
        metadata: entry,
      };
      this.state.entries[entry.id] = installed;
      await this.persist();
      this.jobs.delete(entry.id);
      log.info({ path }, 'installed');
      await this.seedInstalled(installed);
      await this.hook('available', installed);
    } catch (err) {
      if (job.cancelled) return;
      const code = errorCode(err, 'TRANSFER_FAILED');
      job.state = 'failed';
      job.error = { code, message: errorMessage(err) };
      log.error({ code }, `install failed: ${errorMessage(err)}`);
      if (code === 'DISK_FULL') await this.store.clearStaging(artifact.infoHash);
    }
  }

  private async downloadAndInstall(
    entryId: string,
    artifact: NonNullable<ApprovedEntry['entry']['artifact']>,
    job: JobStatus,
    log: Logger,
  ): Promise<{ path: string; fileName: string }> {
    const torrentFile = await this.layout.getPinned(
      this.layout.torrentPath(artifact.infoHash),
      this.deps.config.poll.maxTorrentBytes,
      artifact.torrent.sha256,
    );
    const info = await readTorrentInfo(torrentFile, artifact.infoHash);
    if (info.sizeBytes !== artifact.size || (artifact.fileName && artifact.fileName !== info.fileName)) {
      throw new FetchError(
        'TORRENT_MISMATCH',
        `torrent names ${info.fileName} (${info.sizeBytes} bytes); the catalog ${artifact.fileName ?? ''} (${artifact.size} bytes)`,
      );
    }
    if (job.cancelled) throw new FetchError('TRANSFER_CANCELLED', `entry ${entryId} no longer approved`);
    job.state = 'downloading';
    log.info({ sizeBytes: artifact.size }, 'download started');
    const result = await this.deps.engine.download({
      torrentFile,
      expectedInfoHash: artifact.infoHash,
      stagingDir: this.store.stagingDir(artifact.infoHash),
    });
    if (job.cancelled) {
      await this.store.clearStaging(artifact.infoHash);
      throw new FetchError('TRANSFER_CANCELLED', `entry ${entryId} no longer approved`);
    }
    job.state = 'installing';
    const path = await this.store.install({
      entryId,
      infoHash: artifact.infoHash,
      fileName: result.info.fileName,
      expectedSha256: artifact.sha256,
      staged: result.staged,
    });
    await this.writeTorrentCache(artifact.infoHash, torrentFile);
    return { path, fileName: result.info.fileName };
  }

  private async applyLifecycle(wantedIds: Set<string>, now: Date): Promise<void> {
    const { lifecycle } = this.deps.config;
    for (const entry of Object.values(this.state.entries)) {
      if (wantedIds.has(entry.entryId)) continue;
      if (!entry.unapprovedSince) {
        entry.unapprovedSince = now.toISOString();
        await this.persist();
        this.deps.logger.warn({ entryId: entry.entryId }, 'entry no longer approved; grace period started');
        await this.hook('expiring', entry);
      }
      const since = Date.parse(entry.unapprovedSince);
      if (now.getTime() - since < lifecycle.graceSeconds * 1000) continue;
      await this.deps.engine.close(entry.infoHash);
      if (lifecycle.onRevoke === 'archive') await this.store.archive(entry.entryId, now);
      else await this.store.remove(entry.entryId);
      delete this.state.entries[entry.entryId];
      await this.persist();
      // Another entry linked to the same bytes keeps them in the swarm.
      const sharer = Object.values(this.state.entries).find((e) => e.infoHash === entry.infoHash);
      if (sharer) await this.seedInstalled(sharer);
      this.deps.logger.info({ entryId: entry.entryId, action: lifecycle.onRevoke }, 'entry retired');
      await this.hook('removed', entry);
    }
  }

  private async seedInstalled(entry: InstalledEntry): Promise<void> {
    try {
      const torrentFile = await readFile(this.torrentCachePath(entry.infoHash));
      await this.deps.engine.seed(torrentFile, this.store.imageDir(entry.entryId));
    } catch (err) {
      this.deps.logger.warn({ entryId: entry.entryId }, `cannot seed: ${errorMessage(err)}`);
    }
  }

  private async writeTorrentCache(infoHash: string, bytes: Uint8Array): Promise<void> {
    const path = this.torrentCachePath(infoHash);
    await writeFile(`${path}.tmp`, bytes);
    await rename(`${path}.tmp`, path);
  }

  private async hook(event: HookEvent, entry: InstalledEntry): Promise<void> {
    const { hooks } = this.deps.config;
    const results = await runHooks(hooks[event], event, entry, hooks.timeoutSeconds);
    for (const r of results) {
      const log = this.deps.logger.child({ entryId: entry.entryId, event, command: r.command });
      if (r.exitCode === 0) log.info('hook ran');
      else log.warn({ exitCode: r.exitCode }, `hook failed: ${r.error ?? 'non-zero exit'}`);
    }
  }

  private persist(): Promise<void> {
    return saveState(this.statePath, this.state);
  }

  status() {
    const now = this.now();
    const verified = this.sync.verified;
    return {
      site: this.deps.config.site,
      approval: verified
        ? {
            version: verified.version,
            expires: verified.expiresAt.toISOString(),
            valid: verified.expiresAt > now,
          }
        : null,
      refusedEntries: verified?.refused ?? [],
      lastSync: this.lastSync ?? null,
      installed: Object.values(this.state.entries).map((e) => ({
        entryId: e.entryId,
        name: e.name,
        version: e.version,
        infoHash: e.infoHash,
        sizeBytes: e.sizeBytes,
        path: e.path,
        unapprovedSince: e.unapprovedSince ?? null,
      })),
      jobs: [...this.jobs.values()],
      transfers: this.deps.engine.stats(),
      bannedPeers: this.deps.engine.bannedPeers,
      port: this.deps.engine.port,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
  }
}

export type AgentStatus = ReturnType<AgentDaemon['status']>;
