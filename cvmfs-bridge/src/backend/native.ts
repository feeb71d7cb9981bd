// The default backend: publishes with this package's own writer.
import { createReadStream } from 'node:fs';
import { type RepoSettings, Repository } from '../repo/repository.js';
import { importDirectory } from '../writer/import-dir.js';
import { importTar } from '../writer/import-tar.js';
import { withTransaction } from '../writer/publish.js';
import type { Publisher, PublishRequest, PublishSummary } from './publisher.js';

export class NativePublisher implements Publisher {
  constructor(private readonly settings: RepoSettings) {}

  async publish(request: PublishRequest): Promise<PublishSummary> {
    const repo = Repository.open(request.fqrn, this.settings);
    const result = await withTransaction(
      repo,
      async (tx) => {
        if (request.source.kind === 'dir') {
          await importDirectory(tx, request.source.path, request.path, {
            checksum: request.checksum ?? false,
          });
        } else {
          const input = request.source.path === '-' ? process.stdin : createReadStream(request.source.path);
          await importTar(tx, input, request.path, {
            allowAbsoluteSymlinks: request.allowAbsoluteSymlinks ?? false,
          });
        }
      },
      request.tag ? { tag: { name: request.tag } } : {},
    );
    return {
      backend: 'native',
      revision: result.revision,
      filesStored: result.filesStored,
      bytesStored: result.bytesStored,
      catalogsWritten: result.catalogsWritten,
    };
  }
}
