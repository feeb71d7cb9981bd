// Prometheus metrics, computed from the daemon's status at scrape time so there is one
// source of truth and nothing to keep in sync.

import { Gauge, Registry } from 'prom-client';
import type { AgentStatus } from './daemon.js';

export function createMetrics(getStatus: () => AgentStatus): Registry {
  const registry = new Registry();
  const perTorrent = (name: string, help: string, pick: (t: AgentStatus['transfers'][number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['info_hash', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const t of getStatus().transfers) this.set({ info_hash: t.infoHash, state: t.state }, pick(t));
      },
    });
  perTorrent('tsw_agent_torrent_progress_ratio', 'Fraction of pieces verified', (t) => t.progress);
  perTorrent(
    'tsw_agent_torrent_received_bytes',
    'Bytes received from peers and web seeds',
    (t) => t.receivedBytes,
  );
  perTorrent('tsw_agent_torrent_uploaded_bytes', 'Bytes uploaded to peers', (t) => t.uploadedBytes);
  perTorrent('tsw_agent_torrent_download_bytes_per_second', 'Download rate', (t) => t.downloadBytesPerSecond);
  perTorrent('tsw_agent_torrent_upload_bytes_per_second', 'Upload rate', (t) => t.uploadBytesPerSecond);
  perTorrent('tsw_agent_torrent_connections', 'Open peer connections', (t) => t.conns);
  perTorrent('tsw_agent_torrent_unchoked_peers', 'Peers we upload to', (t) => t.unchoked);
  perTorrent('tsw_agent_torrent_peak_connections', 'Highest connection count seen', (t) => t.peakConns);
  perTorrent('tsw_agent_torrent_peak_unchoked_peers', 'Highest unchoked count seen', (t) => t.peakUnchoked);
  perTorrent(
    'tsw_agent_torrent_refused_connections',
    'Connections refused over the cap',
    (t) => t.refusedConns,
  );
  new Gauge({
    name: 'tsw_agent_installed_entries',
    help: 'Installed entries',
    registers: [registry],
    collect() {
      this.set(getStatus().installed.length);
    },
  });
  new Gauge({
    name: 'tsw_agent_banned_peers',
    help: 'Peers banned for corrupt pieces',
    registers: [registry],
    collect() {
      this.set(getStatus().bannedPeers);
    },
  });
  new Gauge({
    name: 'tsw_agent_approval_valid',
    help: '1 while the last verified approval is unexpired',
    registers: [registry],
    collect() {
      this.set(getStatus().approval?.valid ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tsw_agent_failed_jobs',
    help: 'Entries whose last install attempt failed',
    registers: [registry],
    collect() {
      this.set(getStatus().jobs.filter((j) => j.state === 'failed').length);
    },
  });
  return registry;
}
