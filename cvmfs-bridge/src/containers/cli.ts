// `tsw-bridge container …`: ingest an image, apply a wishlist, serve registry webhooks,
// reconcile, remove a tag, garbage-collect. Each command is one library call and one result.
import { createWriteStream } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { openReader, settingsOf } from '../cli/commands.js';
import { emit, failLine } from '../cli/output.js';
import { loadConfig } from '../config.js';
import { collectGarbage } from '../repo/gc.js';
import { Repository } from '../repo/repository.js';
import { type ContainerConfig, loadContainerConfig } from './config.js';
import { convertImage } from './convert.js';
import { isContainerError } from './errors.js';
import { type EventSink, jsonLinesSink } from './events.js';
import { collectContainerGarbage } from './gc.js';
import { ContainerLayout } from './layout.js';
import { listPublishedImages } from './list.js';
import { formatReference, parseReference } from './reference.js';
import { removeImage } from './remove.js';
import { openState, operatorOwner } from './state.js';
import { applyWishlistFile, reconcileAll } from './wishlist.js';

interface Globals {
  config?: string;
  storageDir?: string;
  stateDir?: string;
  json?: boolean;
}

function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

/** Runs an action; a failure becomes one line `tsw-bridge: CODE: message` and exit status 1. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      const line = isContainerError(error) ? `tsw-bridge: ${error.code}: ${error.message}` : failLine(error);
      process.stderr.write(`${line}\n`);
      process.exitCode = 1;
    }
  };
}

/**
 * `ingest` and `remove` by hand act on paths no wishlist or approved entry owns: the public
 * path is held for this process while it works (refused with TAG_CONFLICT naming the owner
 * otherwise) and left unowned afterwards; a hold left by a command that died is taken over by
 * the next claim. A reference without a tag is left to the converter.
 */
async function asOperator<T>(
  stateDir: string,
  fqrn: string,
  config: ContainerConfig,
  reference: string,
  fn: () => Promise<T>,
): Promise<T> {
  const ref = parseReference(reference);
  if (!ref.tag) return fn();
  const path = new ContainerLayout(config.basePath).publicLink(ref);
  const owner = operatorOwner();
  const state = openState(stateDir, fqrn);
  try {
    state.claim(fqrn, path, owner, formatReference(ref));
    try {
      return await fn();
    } finally {
      state.release(fqrn, path, owner);
    }
  } finally {
    state.close();
  }
}

export function registerContainerCommands(program: Command): void {
  const container = program
    .command('container')
    .description('convert container images into CVMFS (DUCC layout): ingest, wishlists, webhooks, GC')
    .option(
      '--containers-config <file>',
      'YAML config of the converter (default: $TSW_BRIDGE_CONTAINERS_CONFIG)',
    )
    .option('--events <file>', 'write JSON-lines progress events to this file ("-" for stderr)');

  const context = () => {
    const g = program.opts<Globals>();
    const o = container.opts<{ containersConfig?: string; events?: string }>();
    const bridge = loadConfig({
      ...(g.config ? { file: g.config } : {}),
      flags: { storageDir: g.storageDir, stateDir: g.stateDir },
    });
    const config: ContainerConfig = loadContainerConfig(
      o.containersConfig ? { file: o.containersConfig } : {},
    );
    const sink: EventSink | undefined = o.events
      ? jsonLinesSink(o.events === '-' ? process.stderr : createWriteStream(o.events, { flags: 'a' }))
      : undefined;
    return {
      bridge,
      config,
      sink,
      json: g.json === true,
      repo: (fqrn: string) => Repository.open(fqrn, settingsOf(bridge)),
    };
  };

  container
    .command('ingest <fqrn> <reference>')
    .description('convert REGISTRY/REPO:TAG[@DIGEST] (the digest is checked) and publish it')
    .option('--digest <digest>', 'approved manifest or index digest')
    .action(
      action(async (fqrn: string, reference: string, o: { digest?: string }) => {
        const c = context();
        const repo = c.repo(fqrn);
        const result = await asOperator(c.bridge.stateDir, fqrn, c.config, reference, () =>
          convertImage(
            { reference, ...(o.digest ? { digest: o.digest } : {}) },
            { repo, config: c.config, ...(c.sink ? { onEvent: c.sink } : {}) },
          ),
        );
        emit(c.json, result, () =>
          result.changed
            ? `converted ${result.reference} (${result.digest}) → ${result.publicPath}, revision ${result.revision}: ${result.layersIngested} layers ingested, ${result.chainsBuilt} chains built, ${result.seconds.toFixed(1)} s`
            : `${result.reference} already points at ${result.digest}; nothing published`,
        );
      }),
    );

  container
    .command('remove <fqrn> <reference>')
    .description('remove a tag (public symlink and metadata); trees are freed by `container gc`')
    .action(
      action(async (fqrn: string, reference: string) => {
        const c = context();
        const repo = c.repo(fqrn);
        const r = await asOperator(c.bridge.stateDir, fqrn, c.config, reference, () =>
          removeImage(reference, {
            repo,
            config: c.config,
            ...(c.sink ? { onEvent: c.sink } : {}),
          }),
        );
        emit(c.json, r, () =>
          r.removed ? `removed ${reference} (revision ${r.revision})` : `${reference} was not published`,
        );
      }),
    );

  container
    .command('list <fqrn>')
    .description('list the published images (reference, digest, flat tree)')
    .action(
      action(async (fqrn: string) => {
        const c = context();
        const reader = await openReader(c.bridge, fqrn);
        try {
          const images = await listPublishedImages(reader, c.config.basePath);
          emit(c.json, images, () =>
            images.length === 0
              ? '(no images)'
              : images.map((i) => `${i.reference}\t${i.digest}\t${i.flat}`).join('\n'),
          );
        } finally {
          reader.close();
        }
      }),
    );

  container
    .command('gc <fqrn>')
    .description(
      'remove flat trees, chains and layers no tag references, once unreferenced for the grace period',
    )
    .option('--grace-seconds <n>', 'grace period (default: gcGraceSeconds)', intArg)
    .option('--dry-run', 'only report')
    .option('--objects', 'then delete the objects no kept revision references (as repo gc does)')
    .action(
      action(async (fqrn: string, o: { graceSeconds?: number; dryRun?: boolean; objects?: boolean }) => {
        const c = context();
        const grace = o.graceSeconds ?? c.config.gcGraceSeconds;
        const report = await collectContainerGarbage(c.repo(fqrn), {
          config: c.config,
          graceSeconds: grace,
          dryRun: o.dryRun ?? false,
          ...(c.sink ? { onEvent: c.sink } : {}),
        });
        const objects =
          o.objects === true
            ? collectGarbage(c.repo(fqrn), { graceSeconds: grace, dryRun: o.dryRun ?? false })
            : undefined;
        emit(c.json, { ...report, ...(objects ? { objects } : {}) }, () =>
          [
            `${o.dryRun ? 'would remove' : 'removed'} ${report.removed.length} trees; ${report.pending.length} unreferenced within the grace period`,
            ...(objects ? [`objects: ${objects.objectsDeleted} deleted (${objects.bytesFreed} bytes)`] : []),
          ].join('\n'),
        );
      }),
    );

  const wishlist = container.command('wishlist').description('DUCC wishlists');
  wishlist
    .command('apply <file>')
    .description('expand tag globs, convert new and moved images, remove images that left the list')
    .option('--repo <fqrn>', 'override the wishlist cvmfs_repo')
    .action(
      action(async (file: string, o: { repo?: string }) => {
        const c = context();
        const report = await applyWishlistFile(file, {
          config: c.config,
          openRepo: c.repo,
          ...(c.sink ? { onEvent: c.sink } : {}),
          stateDir: c.bridge.stateDir,
          ...(o.repo ? { repoOverride: o.repo } : {}),
        });
        emit(
          c.json,
          report,
          () =>
            `${report.fqrn}: ${report.converted.length} converted, ${report.unchanged.length} unchanged, ${report.removed.length} removed, ${report.failed.length} failed`,
        );
        if (report.failed.length > 0) process.exitCode = 1;
      }),
    );

  container
    .command('reconcile')
    .description('apply every wishlist named in the config (repairs lost webhooks)')
    .action(
      action(async () => {
        const c = context();
        const reports = await reconcileAll({
          config: c.config,
          openRepo: c.repo,
          ...(c.sink ? { onEvent: c.sink } : {}),
          stateDir: c.bridge.stateDir,
        });
        emit(c.json, reports, () =>
          reports
            .map(
              (r) =>
                `${r.fqrn}: ${r.converted.length} converted, ${r.removed.length} removed, ${r.failed.length} failed`,
            )
            .join('\n'),
        );
      }),
    );

  const webhook = container.command('webhook').description('registry push webhooks');
  webhook
    .command('serve')
    .description('receive Docker distribution / Harbor webhooks into a durable outbox and act on them')
    .option('--host <host>', 'bind address (default: webhookHost)')
    .option('--port <port>', 'port, 0 for any (default: webhookPort)', intArg)
    .action(
      action(async (o: { host?: string; port?: number }) => {
        const c = context();
        const { serveWebhooks } = await import('./webhook-service.js');
        const service = await serveWebhooks({
          config: {
            ...c.config,
            ...(o.host ? { webhookHost: o.host } : {}),
            ...(o.port !== undefined ? { webhookPort: o.port } : {}),
          },
          stateDir: c.bridge.stateDir,
          openRepo: c.repo,
          ...(c.sink ? { onEvent: c.sink } : {}),
        });
        emit(
          c.json,
          { url: service.url },
          () => `receiving webhooks at ${service.url}/webhooks/registry and /webhooks/harbor`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await service.close();
      }),
    );
}
