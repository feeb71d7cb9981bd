// `tsw-agent fetch`: the fetch-and-verify path without the daemon — download one .torrent
// with the agent's engine, hash the whole file, install it, optionally keep seeding.
// Prints one JSON line per second with the transfer stats (tests and scripts read them).

import { readFile } from 'node:fs/promises';
import { FetchError, ImageStore, readTorrentInfo, TransferEngine } from '@trustswarm/fetch/transfer';
import { loadTransferConfig } from './config.js';
import { AgentError } from './errors.js';

interface FetchArgs {
  torrent?: string;
  sha256?: string;
  entry?: string;
  data?: string;
  seed?: boolean;
  set?: string[];
}

function emit(event: string, fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

export async function fetchOne(args: FetchArgs): Promise<void> {
  const { torrent, sha256, entry, data } = args;
  if (!torrent || !sha256 || !entry || !data) {
    throw new AgentError('CONFIG_INVALID', 'fetch needs --torrent, --sha256, --entry and --data');
  }
  const transfer = loadTransferConfig(args.set ?? []);
  const torrentFile = await readFile(torrent);
  const info = await readTorrentInfo(torrentFile);
  const store = new ImageStore(data);
  await store.init();
  const engine = await TransferEngine.start(transfer, {
    onBan: (infoHash, e) => emit('ban', { infoHash, ...e }),
    onWebSeed: (infoHash, reason) => emit('webseed', { infoHash, reason }),
    onWarning: (infoHash, message) => emit('warning', { infoHash, message }),
  });
  emit('started', { port: engine.port, dhtPort: engine.dhtPort, infoHash: info.infoHash });
  const report = setInterval(
    () => emit('stats', { transfers: engine.stats(), bannedPeers: engine.bannedPeers }),
    500,
  );
  const stop = async (code: number) => {
    clearInterval(report);
    emit('stats', { transfers: engine.stats(), bannedPeers: engine.bannedPeers });
    await engine.destroy();
    process.exit(code);
  };
  process.once('SIGTERM', () => void stop(0));
  process.once('SIGINT', () => void stop(0));

  try {
    if (!(await store.isInstalled(entry, info.fileName))) {
      const result = await engine.download({
        torrentFile,
        expectedInfoHash: info.infoHash,
        stagingDir: store.stagingDir(info.infoHash),
      });
      const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;
      const cpuSeconds = () => {
        const usage = process.resourceUsage();
        return (usage.userCPUTime + usage.systemCPUTime) / 1e6;
      };
      emit('downloaded', {
        receivedBytes: result.receivedBytes,
        maxRssBytes: maxRssBytes(),
        cpuSeconds: cpuSeconds(),
      });
      const stats = { receivedBytes: result.receivedBytes };
      await store.install({
        entryId: entry,
        infoHash: info.infoHash,
        fileName: info.fileName,
        expectedSha256: sha256,
        staged: result.staged,
      });
      emit('installed', {
        path: store.imagePath(entry, info.fileName),
        ...stats,
        maxRssBytes: maxRssBytes(),
        cpuSeconds: cpuSeconds(),
      });
    } else emit('installed', { path: store.imagePath(entry, info.fileName), receivedBytes: 0 });
  } catch (err) {
    if (err instanceof FetchError && err.code === 'DISK_FULL') await store.clearStaging(info.infoHash);
    clearInterval(report);
    await engine.destroy();
    throw err;
  }
  if (!args.seed) return stop(0);
  await engine.seed(torrentFile, store.imageDir(entry));
  emit('seeding', { infoHash: info.infoHash });
}
