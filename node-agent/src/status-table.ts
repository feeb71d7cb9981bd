// Renders `tsw-agent status`: one line per entry with a progress bar, rates, peers, state.

import type { AgentStatus } from './daemon.js';

function bar(ratio: number, width = 20): string {
  const filled = Math.round(Math.max(0, Math.min(1, ratio)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function rate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  if (bytesPerSecond >= 1e3) return `${(bytesPerSecond / 1e3).toFixed(1)} kB/s`;
  return `${Math.round(bytesPerSecond)} B/s`;
}

export function renderStatus(status: AgentStatus): string {
  const lines: string[] = [];
  const approval = status.approval
    ? `approval v${status.approval.version} ${status.approval.valid ? 'valid' : 'EXPIRED'} until ${status.approval.expires}`
    : 'no verified approval';
  lines.push(`site ${status.site} · ${approval} · last sync: ${status.lastSync?.kind ?? 'never'}`);
  const rows: string[][] = [['ENTRY', 'NAME', 'STATE', 'PROGRESS', 'DOWN', 'UP', 'PEERS', 'UNCHOKED']];
  const transfers = new Map(status.transfers.map((t) => [t.infoHash, t]));
  for (const e of status.installed) {
    const t = transfers.get(e.infoHash);
    const state = e.unapprovedSince ? 'unapproved' : (t?.state ?? 'installed');
    rows.push([
      e.entryId,
      e.name,
      state,
      bar(1),
      rate(t?.downloadBytesPerSecond ?? 0),
      rate(t?.uploadBytesPerSecond ?? 0),
      String(t?.conns ?? 0),
      String(t?.unchoked ?? 0),
    ]);
  }
  for (const j of status.jobs) {
    const t = transfers.get(j.infoHash);
    const state = j.state === 'failed' ? `failed: ${j.error?.code}` : j.state;
    rows.push([
      j.entryId,
      j.name,
      state,
      `${bar(t?.progress ?? 0)} ${Math.floor((t?.progress ?? 0) * 100)}%`,
      rate(t?.downloadBytesPerSecond ?? 0),
      rate(t?.uploadBytesPerSecond ?? 0),
      String(t?.conns ?? 0),
      String(t?.unchoked ?? 0),
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const row of rows)
    lines.push(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  return lines.join('\n');
}
