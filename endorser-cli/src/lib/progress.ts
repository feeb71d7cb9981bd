// A progress bar (MB/s, ETA) on stderr, drawn only when a person watches a terminal.

import cliProgress from 'cli-progress';

export interface Progress {
  update(doneBytes: number): void;
  stop(): void;
}

const MB = 1_000_000;

export function startProgress(label: string, totalBytes: number, interactive: boolean): Progress {
  if (!interactive) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {doneMb}/{totalMb} MB | {rateMb} MB/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const startedAt = Date.now();
  const payload = (done: number) => ({
    doneMb: (done / MB).toFixed(0),
    totalMb: (totalBytes / MB).toFixed(0),
    rateMb: (done / MB / Math.max((Date.now() - startedAt) / 1000, 0.001)).toFixed(1),
  });
  bar.start(Math.max(totalBytes, 1), 0, payload(0));
  return {
    update: (done) => bar.update(done, payload(done)),
    stop: () => bar.stop(),
  };
}
