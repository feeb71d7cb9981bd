// Live progress of the agents: one bar per agent, redrawn in place on a terminal and
// printed every few seconds otherwise (CI logs).

import type { Agent } from './processes.js';

const BAR = 24;

function bar(fraction: number): string {
  const full = Math.round(Math.max(0, Math.min(1, fraction)) * BAR);
  return `${'█'.repeat(full)}${'░'.repeat(BAR - full)}`;
}

export class Progress {
  constructor(private readonly agents: Agent[]) {}

  /** Waits until every agent installed the entry; returns the installed paths. */
  async until(entryId: string, timeoutMs: number, show = true): Promise<string[]> {
    const tty = process.stdout.isTTY;
    const deadline = Date.now() + timeoutMs;
    let lastPrint = 0;
    let drawn = 0;
    for (;;) {
      const statuses = await Promise.all(this.agents.map((a) => a.status()));
      const paths = statuses.map((s) => s.installed.find((e) => e.entryId === entryId)?.path);
      const lines = statuses.map((s, i) => {
        const agent = this.agents[i];
        const t = s.transfers[0];
        const isDone = paths[i] !== undefined;
        const fraction = isDone ? 1 : (t?.progress ?? 0);
        const mbps = (n: number) => `${(n / 1e6).toFixed(0)} MB/s`;
        const web = t?.webSeedUsed ? ', web seed' : '';
        const state = isDone
          ? `installed, seeding ${mbps(t?.uploadBytesPerSecond ?? 0)} up`
          : t
            ? `${t.state} ${mbps(t.downloadBytesPerSecond)} from ${t.conns} peers${web}`
            : 'verifying signatures';
        return `    ${agent?.name.padEnd(6)} ${bar(fraction)} ${(fraction * 100).toFixed(0).padStart(3)}%  ${state}`;
      });
      if (show && tty) {
        if (drawn) process.stdout.write(`\u001b[${drawn}A`);
        process.stdout.write(`${lines.map((l) => `${l}\u001b[K`).join('\n')}\n`);
        drawn = lines.length;
      } else if (show && (Date.now() - lastPrint > 3000 || paths.every(Boolean))) {
        console.log(lines.join('\n'));
        lastPrint = Date.now();
      }
      if (paths.every(Boolean)) return paths as string[];
      if (Date.now() > deadline) throw new Error(`agents did not install entry ${entryId} in time`);
      await new Promise((r) => setTimeout(r, 400));
    }
  }
}
