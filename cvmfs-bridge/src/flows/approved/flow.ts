// Approved content → CVMFS. The bridge follows a site's approval exactly as an agent does,
// through @trustswarm/fetch: poll + verify (SiteSync, PolicySiteVerifier), download over
// BitTorrent (TransferEngine), hash and install atomically (ImageStore). Every approved
// repo-snapshot entry (a tar archive) is then published into entry.cvmfs.repository at
// entry.cvmfs.path; every approved container-image entry is converted from its registry into
// the repository's DUCC layout (container-entry.ts). When an entry stops being approved
// (revoked or expired) its path is removed in a later publish, or kept and flagged. State
// lives in SQLite, one row per entry, written after each step (downloaded → published), so a
// restart resumes where it stopped.
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ApprovedEntry,
  FetchError,
  ImageStore,
  LayoutClient,
  PolicySiteVerifier,
  readTorrentInfo,
  SiteSync,
  type SyncOutcome,
  TransferEngine,
} from '@trustswarm/fetch';
import type { Logger } from 'pino';
import { settingsOf } from '../../cli/commands.js';
import type { BridgeConfig } from '../../config.js';
import {
  type ContainerConfig,
  collectContainerGarbage,
  isContainerError,
  loadContainerConfig,
} from '../../containers/index.js';
import { normalizeRepoPath } from '../../format/repo-path.js';
import { requireFqrn } from '../../repo/layout.js';
import { Repository } from '../../repo/repository.js';
import { runAs } from '../../repo/turns.js';
import { importTar } from '../../writer/import-tar.js';
import { withTransaction } from '../../writer/publish.js';
import { errorCode, errorMessage, FlowError } from '../errors.js';
import type { FlowMetrics } from '../metrics.js';
import type { ApprovedRow, FlowState } from '../state.js';
import {
  claimImagePath,
  type ImageTarget,
  imageTargetOf,
  publishImage,
  unpublishImage,
} from './container-entry.js';
import { requireNoOwnedImage } from './image-paths.js';

export interface ApprovedFlowDeps {
  readonly config: BridgeConfig;
  readonly state: FlowState;
  readonly logger: Logger;
  readonly metrics: FlowMetrics;
}

interface Target {
  readonly repository: string;
  readonly path: string;
}

/** A row whose content is in its repository (a downloaded-only snapshot has nothing there). */
const isPublished = (row: ApprovedRow) => row.status === 'published' || row.status === 'flagged';

export class ApprovedFlow {
  private readonly dataDir: string;
  private readonly store: ImageStore;
  private readonly layout: LayoutClient;
  private readonly sync: SiteSync;
  private readonly containers: ContainerConfig;
  private engine: TransferEngine | undefined;
  /** repositories this process put container images into or took them out of */
  private readonly imageRepositories = new Set<string>();
  private lastContainerGc = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  lastSync: (SyncOutcome & { at: string }) | undefined;

  constructor(private readonly deps: ApprovedFlowDeps) {
    const cfg = deps.config.approved;
    if (!cfg.site || !cfg.layoutUrl)
      throw new FlowError('CONFIG_INVALID', 'approved.site and approved.layoutUrl are required');
    this.dataDir = join(deps.config.stateDir, 'flows', 'approved');
    this.store = new ImageStore(this.dataDir);
    this.containers = loadContainerConfig(cfg.containersConfig ? { file: cfg.containersConfig } : {});
    this.layout = new LayoutClient({ baseUrl: cfg.layoutUrl, ...cfg.poll });
    const verifier = new PolicySiteVerifier({
      site: cfg.site,
      caPath: cfg.trust.caPath,
      crlPolicy: cfg.trust.crlPolicy,
      siteSigners: cfg.trust.siteSigners,
      highWaterPath: join(this.dataDir, 'high-water.json'),
    });
    this.sync = new SiteSync(
      cfg.site,
      this.layout,
      verifier,
      join(this.dataDir, 'cache'),
      cfg.poll.maxSignaturesPerCatalog,
    );
  }

  private get cfg() {
    return this.deps.config.approved;
  }

  async start(): Promise<void> {
    await this.store.init();
    const log = this.deps.logger;
    this.engine = await TransferEngine.start(this.cfg.transfer, {
      onBan: (infoHash, e) => log.warn({ infoHash, ...e }, 'peer banned: sent a corrupt piece'),
      onWebSeed: (infoHash, reason) => log.info({ infoHash, reason }, 'web seed enabled'),
      onWarning: (infoHash, message) => log.debug({ infoHash }, message),
    });
    const restored = await this.sync.restore(new Date());
    log.info({ outcome: restored }, 'cached approval checked');
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    await this.engine?.destroy();
  }

  status() {
    return {
      lastSync: this.lastSync ?? null,
      entries: this.deps.state.approvedEntries(),
    };
  }

  /** One poll and its consequences; the next is scheduled when it ends (never overlapping). */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.runTick()
      .catch((error: unknown) =>
        this.deps.logger.error(`approved-content tick failed: ${errorMessage(error)}`),
      )
      .finally(() => {
        this.ticking = undefined;
        if (this.stopped) return;
        const ok = this.lastSync?.kind !== 'unreachable' && this.lastSync?.kind !== 'refused';
        const seconds = ok ? this.cfg.poll.intervalSeconds : this.cfg.poll.retrySeconds;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.tick(), seconds * 1000);
      });
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    const now = new Date();
    const outcome = await this.sync.refresh(now);
    this.lastSync = { ...outcome, at: now.toISOString() };
    if (outcome.kind === 'refused' || outcome.kind === 'unreachable')
      this.deps.logger.warn({ code: outcome.code }, `approval ${outcome.kind}: ${outcome.message}`);
    const wanted = this.sync
      .approvedEntries(now)
      .filter(
        (a) =>
          a.entry.cvmfs &&
          ((a.entry.kind === 'repo-snapshot' && a.entry.artifact) ||
            (a.entry.kind === 'container-image' && a.entry.oci)),
      );
    const wantedIds = new Set(wanted.map((w) => w.entry.id));
    for (const approved of wanted) {
      if (this.stopped) return;
      // Named so that a transaction waiting behind this one in the repository can say what it waits for.
      const publish = runAs(`approved flow, entry ${approved.entry.id}`, () =>
        approved.entry.kind === 'container-image'
          ? this.ensureImage(approved)
          : this.ensurePublished(approved),
      );
      await publish.catch((error: unknown) => {
        this.deps.metrics.approved.inc({ action: 'failed' });
        this.deps.logger.error(
          { entryId: approved.entry.id, code: errorCode(error) },
          `approved entry not published: ${errorMessage(error)}`,
        );
      });
    }
    for (const row of this.deps.state.approvedEntries()) {
      if (row.kind === 'container-image') this.imageRepositories.add(row.repository);
      if (wantedIds.has(row.entryId) || this.stopped) continue;
      await runAs(`approved flow, retiring entry ${row.entryId}`, () => this.retire(row, now)).catch(
        (error: unknown) =>
          this.deps.logger.error({ entryId: row.entryId }, `retiring failed: ${errorMessage(error)}`),
      );
    }
    await this.collectContainerTrees(now);
  }

  /**
   * Frees the flat trees, chains and layers no published image references any more, once
   * they have been unreferenced for the containers config's gcGraceSeconds (a revoked entry,
   * a tag that moved), at most every containerGcIntervalSeconds: `container gc` on a timer,
   * in the repositories this flow published images into.
   */
  private async collectContainerTrees(now: Date): Promise<void> {
    const interval = this.cfg.containerGcIntervalSeconds * 1000;
    if (interval === 0 || now.getTime() - this.lastContainerGc < interval || this.stopped) return;
    this.lastContainerGc = now.getTime();
    for (const fqrn of this.imageRepositories) {
      const repo = Repository.open(fqrn, settingsOf(this.deps.config));
      const report = await runAs('approved flow, container GC', () =>
        collectContainerGarbage(repo, {
          config: this.containers,
          graceSeconds: this.containers.gcGraceSeconds,
          now: () => now.getTime(),
        }),
      ).catch((error: unknown) => {
        this.deps.logger.error({ repository: fqrn }, `container GC failed: ${errorMessage(error)}`);
      });
      if (report && report.removed.length > 0) {
        this.deps.metrics.publishes.inc({ flow: 'approved' });
        this.deps.logger.info(
          { repository: fqrn, removed: report.removed.length, revision: report.revision },
          'unreferenced container trees collected',
        );
      }
    }
  }

  private repositoryOf(approved: ApprovedEntry): string {
    const cvmfs = approved.entry.cvmfs as { repository?: unknown } | undefined;
    if (typeof cvmfs?.repository !== 'string')
      throw new FlowError('MESSAGE_INVALID', 'entry has no cvmfs.repository');
    const repository = requireFqrn(cvmfs.repository);
    if (this.cfg.repositories.length > 0 && !this.cfg.repositories.includes(repository))
      throw new FlowError('NAME_INVALID', `repository ${repository} is not in approved.repositories`);
    return repository;
  }

  private targetOf(approved: ApprovedEntry): Target {
    const repository = this.repositoryOf(approved);
    const cvmfs = approved.entry.cvmfs as { path?: unknown } | undefined;
    if (typeof cvmfs?.path !== 'string') throw new FlowError('MESSAGE_INVALID', 'entry has no cvmfs.path');
    const path = normalizeRepoPath(cvmfs.path);
    if (path === '') throw new FlowError('MESSAGE_INVALID', 'cvmfs.path must not be the repository root');
    return { repository, path };
  }

  private async ensurePublished(approved: ApprovedEntry): Promise<void> {
    const { entry } = approved;
    const artifact = entry.artifact;
    if (!artifact) return;
    const target = this.targetOf(approved);
    const state = this.deps.state;
    const row = state.approvedEntry(entry.id);
    const same =
      row &&
      row.kind === 'repo-snapshot' &&
      row.sha256 === artifact.sha256 &&
      row.repository === target.repository &&
      row.path === target.path;
    if (same && (row.status === 'published' || row.status === 'flagged')) {
      if (row.unapprovedSince || row.status === 'flagged')
        state.putApproved({ ...row, status: 'published', unapprovedSince: '' });
      return;
    }
    this.requireFree(entry.id, target);
    // Checked before the download, and again in the transaction (an image claimed meanwhile).
    const stateDir = this.deps.config.stateDir;
    requireNoOwnedImage(stateDir, target.repository, target.path);

    /** The entry's state row: downloaded (resumable) or published. */
    const record = (filePath: string, status: 'downloaded' | 'published', revision: number) =>
      state.putApproved({
        entryId: entry.id,
        kind: 'repo-snapshot',
        reference: '',
        ...target,
        sha256: artifact.sha256,
        infoHash: artifact.infoHash,
        filePath,
        status,
        revision,
        unapprovedSince: '',
      });
    let filePath = same && row.status === 'downloaded' && existsSync(row.filePath) ? row.filePath : undefined;
    if (!filePath) {
      filePath = await this.download(entry.id, artifact);
      record(filePath, 'downloaded', row?.revision ?? 0);
      this.deps.logger.info({ entryId: entry.id, filePath }, 'approved artifact downloaded and verified');
    }
    const repo = Repository.open(target.repository, settingsOf(this.deps.config));
    const file = filePath;
    const timer = this.deps.metrics.publishSeconds.startTimer({ flow: 'approved' });
    const result = await withTransaction(repo, async (tx) => {
      requireNoOwnedImage(stateDir, target.repository, target.path);
      if (row?.kind === 'repo-snapshot' && row.repository === target.repository && row.path !== target.path)
        await tx.remove(row.path);
      await tx.remove(target.path);
      await tx.addDirectory(target.path);
      await importTar(tx, createReadStream(file), target.path);
    }).catch((error: unknown) => {
      // withTransaction wraps the refusal in ABORTED: report it with its own code
      throw error instanceof Error && isContainerError(error.cause, 'TAG_CONFLICT') ? error.cause : error;
    });
    timer();
    if (row && isPublished(row) && (row.kind !== 'repo-snapshot' || row.repository !== target.repository))
      await this.unpublish(row);
    record(filePath, 'published', result.revision);
    this.deps.metrics.approved.inc({ action: 'published' });
    this.deps.metrics.publishes.inc({ flow: 'approved' });
    this.deps.logger.info(
      { entryId: entry.id, ...target, revision: result.revision },
      'approved entry published',
    );
  }

  /** A path another entry publishes is refused (NAME_TAKEN): one owner per path. */
  private requireFree(entryId: string, target: Target): void {
    const owner = this.deps.state
      .approvedEntries()
      .find((r) => r.entryId !== entryId && r.repository === target.repository && r.path === target.path);
    if (owner)
      throw new FlowError(
        'NAME_TAKEN',
        `${target.repository}:${target.path} is published by entry ${owner.entryId}`,
      );
  }

  /** A container-image entry: converted from the registry at the signed digest, then recorded. */
  private async ensureImage(approved: ApprovedEntry): Promise<void> {
    const { entry } = approved;
    const repository = this.repositoryOf(approved);
    const image: ImageTarget = imageTargetOf(approved, this.containers);
    const target = { repository, path: image.path };
    const state = this.deps.state;
    const row = state.approvedEntry(entry.id);
    const sha256 = image.digest.replace(/^sha256:/, '');
    const same =
      row?.kind === 'container-image' &&
      row.sha256 === sha256 &&
      row.reference === image.reference &&
      row.repository === repository &&
      row.path === image.path;
    const repo = Repository.open(repository, settingsOf(this.deps.config));
    if (same && (row.status === 'published' || row.status === 'flagged')) {
      // Confirms the entry owns its path (an entry published before owners were recorded takes
      // it now); a wishlist that owns it is reported (TAG_CONFLICT) on every poll.
      claimImagePath(repo, entry.id, image);
      if (row.unapprovedSince || row.status === 'flagged')
        state.putApproved({ ...row, status: 'published', unapprovedSince: '' });
      return;
    }
    this.requireFree(entry.id, target);
    const log = this.deps.logger.child({ entryId: entry.id, reference: image.reference });
    const timer = this.deps.metrics.publishSeconds.startTimer({ flow: 'approved' });
    // A path a wishlist owns is refused (TAG_CONFLICT) before anything is fetched: no row is
    // written, so the entry is tried again on every poll and converts once the wishlist lets go.
    const { revision, changed } = await publishImage(repo, entry.id, image, this.containers, (e) =>
      log.debug(e, 'container progress'),
    );
    timer();
    // The entry named something else before (another tag, repository or a snapshot): retire it.
    if (row && isPublished(row) && (row.repository !== repository || row.path !== image.path))
      await this.unpublish(row);
    state.putApproved({
      entryId: entry.id,
      kind: 'container-image',
      reference: image.reference,
      ...target,
      sha256,
      infoHash: '',
      filePath: '',
      status: 'published',
      revision,
      unapprovedSince: '',
    });
    this.deps.metrics.approved.inc({ action: 'published' });
    if (changed) this.deps.metrics.publishes.inc({ flow: 'approved' });
    log.info(
      { repository, path: image.path, digest: image.digest, revision, changed },
      'approved entry published',
    );
  }

  private async download(
    entryId: string,
    artifact: NonNullable<ApprovedEntry['entry']['artifact']>,
  ): Promise<string> {
    const engine = this.engine;
    if (!engine) throw new FlowError('CONFIG_INVALID', 'approved-content flow is not started');
    const torrentFile = await this.layout.getPinned(
      this.layout.torrentPath(artifact.infoHash),
      this.cfg.poll.maxTorrentBytes,
      artifact.torrent.sha256,
    );
    const info = await readTorrentInfo(torrentFile, artifact.infoHash);
    if (info.sizeBytes !== artifact.size)
      throw new FetchError(
        'TORRENT_MISMATCH',
        `torrent has ${info.sizeBytes} bytes; the catalog ${artifact.size}`,
      );
    const result = await engine.download({
      torrentFile,
      expectedInfoHash: artifact.infoHash,
      stagingDir: this.store.stagingDir(artifact.infoHash),
    });
    const path = await this.store.install({
      entryId,
      infoHash: artifact.infoHash,
      fileName: result.info.fileName,
      expectedSha256: artifact.sha256,
    });
    // Like an agent, the bridge seeds what it holds, so other site nodes can fetch from it.
    await engine.seed(torrentFile, this.store.imageDir(entryId)).catch(() => {});
    return path;
  }

  /**
   * Takes an entry's content out of its repository: the snapshot's path, or the image's tag.
   * An image path another source owns is left in place: the TAG_CONFLICT is returned instead.
   */
  private async unpublish(row: ApprovedRow): Promise<{ revision: number } | { conflict: Error }> {
    const repo = Repository.open(row.repository, settingsOf(this.deps.config));
    const result =
      row.kind === 'container-image'
        ? await unpublishImage(repo, row, this.containers)
        : await withTransaction(repo, async (tx) => {
            await tx.remove(row.path);
          });
    if ('conflict' in result) {
      this.deps.logger.warn(
        { entryId: row.entryId, code: result.conflict.code },
        `published path left in place: ${result.conflict.message}`,
      );
      return result;
    }
    this.deps.metrics.publishes.inc({ flow: 'approved' });
    return { revision: result.revision };
  }

  private async retire(row: ApprovedRow, now: Date): Promise<void> {
    const log = this.deps.logger.child({ entryId: row.entryId, repository: row.repository, path: row.path });
    if (row.status !== 'published' && row.status !== 'flagged') {
      // Downloaded but never published: nothing in the repository to undo.
      await this.engine?.close(row.infoHash);
      await this.store.remove(row.entryId);
      this.deps.state.deleteApproved(row.entryId);
      return;
    }
    if (this.cfg.onRevoke === 'keep') {
      if (row.status === 'flagged') return;
      this.deps.state.putApproved({ ...row, status: 'flagged', unapprovedSince: now.toISOString() });
      this.deps.metrics.approved.inc({ action: 'flagged' });
      log.warn('entry no longer approved; its published path is kept and flagged');
      return;
    }
    const result = await this.unpublish(row);
    if (row.kind === 'repo-snapshot') {
      await this.engine?.close(row.infoHash);
      await this.store.remove(row.entryId);
    }
    this.deps.state.deleteApproved(row.entryId);
    this.deps.metrics.approved.inc({ action: 'removed' });
    if ('conflict' in result)
      log.warn('entry no longer approved; its path belongs to another source and was left in place');
    else log.info({ revision: result.revision }, 'entry no longer approved; its path was removed');
  }
}
