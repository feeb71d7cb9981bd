// Backend for an existing Stratum 0: `cvmfs_server transaction`, `ingest`, `publish`, and
// `abort -f` whenever anything fails or the process is interrupted (SIGINT/SIGTERM), so a
// transaction is never left open. Directory sources are streamed as a tar archive.
import { existsSync, statSync } from 'node:fs';
import { execa } from 'execa';
import { BridgeError } from '../errors.js';
import { normalizeRepoPath } from '../format/repo-path.js';
import type { Publisher, PublishRequest, PublishSummary } from './publisher.js';

export interface CvmfsServerOptions {
  readonly command: string;
  readonly timeoutSeconds?: number;
}

export class CvmfsServerPublisher implements Publisher {
  constructor(private readonly options: CvmfsServerOptions) {}

  private async run(
    args: string[],
    extra: { input?: NodeJS.ReadableStream; inputFile?: string; signal: AbortSignal },
  ) {
    try {
      const sub = execa(this.options.command, args, {
        cancelSignal: extra.signal,
        ...(extra.inputFile ? { inputFile: extra.inputFile } : {}),
        ...(extra.input ? { stdin: 'pipe' as const } : {}),
        stripFinalNewline: true,
        ...(this.options.timeoutSeconds ? { timeout: this.options.timeoutSeconds * 1000 } : {}),
      });
      if (extra.input) extra.input.pipe(sub.stdin as NodeJS.WritableStream);
      return await sub;
    } catch (error) {
      const e = error as { stderr?: string; shortMessage?: string; isCanceled?: boolean };
      const detail = (e.stderr?.split('\n').filter(Boolean).pop() ?? e.shortMessage ?? String(error)).slice(
        0,
        300,
      );
      throw new BridgeError(
        e.isCanceled ? 'ABORTED' : 'BACKEND_FAILED',
        `cvmfs_server ${args[0]} failed: ${detail}`,
      );
    }
  }

  async publish(request: PublishRequest): Promise<PublishSummary> {
    const source = request.source;
    if (source.kind === 'dir' && (!existsSync(source.path) || !statSync(source.path).isDirectory())) {
      throw new BridgeError('NOT_FOUND', `source directory ${source.path} does not exist`);
    }
    const baseDir = normalizeRepoPath(request.path) || '/';
    const controller = new AbortController();
    let interruptedBy: string | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      interruptedBy = signal;
      controller.abort(new Error(`interrupted by ${signal}`));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let open = false;
    try {
      await this.run(['transaction', request.fqrn], { signal: controller.signal });
      open = true;
      const ingestArgs = ['ingest', '--base_dir', baseDir, '--tar_file', '-', request.fqrn];
      if (source.kind === 'tar') {
        await this.run(ingestArgs, {
          ...(source.path === '-' ? { input: process.stdin } : { inputFile: source.path }),
          signal: controller.signal,
        });
      } else {
        const tar = execa('tar', ['-cf', '-', '-C', source.path, '.'], {
          cancelSignal: controller.signal,
          buffer: false,
        });
        const ingest = this.run(ingestArgs, {
          input: tar.stdout as NodeJS.ReadableStream,
          signal: controller.signal,
        });
        await Promise.all([
          ingest,
          tar.catch((e: unknown) => {
            throw new BridgeError('BACKEND_FAILED', `tar of ${source.path} failed: ${(e as Error).message}`);
          }),
        ]);
      }
      if (interruptedBy) throw new BridgeError('ABORTED', `interrupted by ${interruptedBy}`);
      await this.run(['publish', ...(request.tag ? ['-a', request.tag] : []), request.fqrn], {
        signal: controller.signal,
      });
      open = false;
      return { backend: 'cvmfs_server' };
    } catch (error) {
      if (open) await this.abort(request.fqrn);
      if (interruptedBy)
        throw new BridgeError('ABORTED', `interrupted by ${interruptedBy}; transaction aborted`);
      throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  private async abort(fqrn: string): Promise<void> {
    try {
      await execa(this.options.command, ['abort', '-f', fqrn]);
    } catch (error) {
      throw new BridgeError(
        'BACKEND_FAILED',
        `cvmfs_server abort failed, the transaction may still be open: ${(error as Error).message}`,
      );
    }
  }
}
