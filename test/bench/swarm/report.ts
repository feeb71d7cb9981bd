// Figures of the swarm benchmark: per method and swarm size, completion-time percentiles
// against the bound S/B; written as JSON, a markdown table and an SVG line plot.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CpuAccount } from './cpu-account.js';

export interface RoundResult {
  method: string;
  n: number;
  /** seconds from the start signal to each client's verified, complete file */
  completions: number[];
  failed: number;
  /** median time of each agent step after the start signal (trustswarm only) */
  phases?: Record<string, number>;
  /** not measured: N·S/B, what a single origin link gives by construction */
  computed?: boolean;
  /** bytes that left the origin, in copies of the image */
  originCopies?: number;
  /** of the origin's seeder bytes, those repeating blocks it had sent before (× S) */
  originRepeats?: number;
  /** what the links carried during the round (netns.ts linkCounters) */
  network?: NetworkUse;
  /** where the machine's CPU went from the start signal to the last completion */
  cpu?: CpuAccount;
}

export interface NetworkUse {
  /** mean busy share of the clients' upload links (bytes sent / (B × round time)) */
  uploadBusy: number;
  /** the same for their download links */
  downloadBusy: number;
  /** TCP segments sent again, as a share of all segments the clients sent */
  retransmitted: number;
  /** packets the shaped links dropped (queue full) */
  drops: number;
}

export interface Summary {
  method: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
  failed: number;
  /** p99 divided by the bound S/B */
  p99OverBound: number;
  computed: boolean;
  originCopies: number | undefined;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

export function summarize(r: RoundResult, boundSeconds: number): Summary {
  const sorted = [...r.completions].sort((a, b) => a - b);
  const p99 = r.failed > 0 ? Number.POSITIVE_INFINITY : percentile(sorted, 99);
  return {
    method: r.method,
    n: r.n,
    p50: percentile(sorted, 50),
    p99,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    failed: r.failed,
    p99OverBound: p99 / boundSeconds,
    computed: r.computed === true,
    originCopies: r.originCopies,
  };
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

/** Completion time (p99) against N, one line per method, plus the bound as a dashed line. */
export function plotSvg(summaries: Summary[], boundSeconds: number, title: string): string {
  const width = 720;
  const height = 440;
  const m = { left: 70, right: 190, top: 40, bottom: 55 };
  const ns = [...new Set(summaries.map((s) => s.n))].sort((a, b) => a - b);
  const methods = [...new Set(summaries.map((s) => s.method))];
  const finite = summaries.map((s) => s.p99).filter(Number.isFinite);
  const yMax = Math.max(boundSeconds, ...finite) * 1.1;
  const x = (n: number) => m.left + (ns.indexOf(n) / Math.max(1, ns.length - 1)) * (width - m.left - m.right);
  const y = (v: number) => height - m.bottom - (v / yMax) * (height - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<title>${escapeXml(title)}</title>`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${m.left}" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  // axes and grid
  const axisY = height - m.bottom;
  parts.push(`<line x1="${m.left}" y1="${axisY}" x2="${width - m.right}" y2="${axisY}" stroke="black"/>`);
  parts.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${axisY}" stroke="black"/>`);
  for (const n of ns) {
    parts.push(`<text x="${x(n)}" y="${axisY + 18}" text-anchor="middle">${n}</text>`);
  }
  parts.push(
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 15}" text-anchor="middle">agents (N)</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (yMax / 5) * i;
    parts.push(`<line x1="${m.left}" y1="${y(v)}" x2="${width - m.right}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
  }
  parts.push(
    `<text transform="translate(18 ${(m.top + axisY) / 2}) rotate(-90)" text-anchor="middle">p99 completion time (s)</text>`,
  );
  // bound
  parts.push(
    `<line x1="${m.left}" y1="${y(boundSeconds)}" x2="${width - m.right}" y2="${y(boundSeconds)}" stroke="black" stroke-dasharray="6 4"/>`,
  );
  const legend = (i: number, color: string, label: string, dashed = false) => {
    const ly = m.top + 10 + i * 20;
    const lx = width - m.right + 15;
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 25}" y2="${ly}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    parts.push(`<text x="${lx + 32}" y="${ly + 4}">${escapeXml(label)}</text>`);
  };
  legend(0, 'black', 'bound S/B', true);
  methods.forEach((method, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const points = summaries
      .filter((s) => s.method === method && Number.isFinite(s.p99))
      .sort((a, b) => a.n - b.n)
      .map((s) => `${x(s.n).toFixed(1)},${y(s.p99).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
    for (const p of points) {
      const [px, py] = p.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${color}"/>`);
    }
    legend(i + 1, color, method);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string,
  );
}

/**
 * The share of a link's rate that can be payload: `tbf` counts whole frames, and a full frame
 * on the benchmark's links (MTU 1500, TCP timestamps on) carries 1448 of its 1514 bytes. No
 * client can receive S in less than S/B divided by this.
 */
export const FRAME_PAYLOAD_SHARE = 1448 / 1514;

export function markdownTable(summaries: Summary[], boundSeconds: number): string {
  const rows = [
    '| method | N | p50 (s) | p99 (s) | max (s) | p99 / (S/B) | origin sent (× S) | failed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of summaries) {
    rows.push(
      `| ${s.method}${s.computed ? ' (computed N·S/B)' : ''} | ${s.n} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.max.toFixed(2)} | ${s.p99OverBound.toFixed(2)} | ${s.originCopies?.toFixed(2) ?? '–'} | ${s.failed} |`,
    );
  }
  const framed = boundSeconds / FRAME_PAYLOAD_SHARE;
  rows.push(
    '',
    `Bound S/B = ${boundSeconds.toFixed(2)} s; with the frames' headers, no client can finish before ` +
      `${framed.toFixed(2)} s (${(1 / FRAME_PAYLOAD_SHARE).toFixed(3)} × S/B).`,
  );
  return rows.join('\n');
}

export async function writeReport(
  outDir: string,
  meta: Record<string, unknown>,
  summaries: Summary[],
  rounds: RoundResult[],
  boundSeconds: number,
): Promise<string[]> {
  const title = `Swarm completion, S = ${meta.sizeMiB} MiB, B = ${meta.rateMbit} Mbit/s per link`;
  const files = ['swarm.json', 'swarm.md', 'swarm.svg'].map((f) => join(outDir, f));
  await writeFile(
    files[0] as string,
    `${JSON.stringify({ meta, boundSeconds, summaries, rounds }, null, 2)}\n`,
  );
  const md = [`# ${title}`, '', describeMeta(meta), '', markdownTable(summaries, boundSeconds), ''].join(
    '\n',
  );
  await writeFile(files[1] as string, md);
  await writeFile(files[2] as string, plotSvg(summaries, boundSeconds, title));
  return files;
}

function describeMeta(meta: Record<string, unknown>): string {
  return Object.entries(meta)
    .map(([k, v]) => `- ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
}
