// An agent killed with SIGKILL in the middle of a download resumes on restart from what it
// had verified: it does not fetch those pieces again, and installs the endorsed image.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { countSetBits, RESUME_FILE } from '@trustswarm/fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent, waitFor } from '../demo/lib/processes.js';
import { agentConfig } from '../demo/lib/site.js';
import { approvedImage, installedPath, type Rollout, sha256OfFile, untilStatus } from './lib/rollout.js';

let r: Rollout;
beforeAll(async () => {
  r = await approvedImage(40);
}, 120_000);
afterAll(() => r?.cleanup());

interface ResumeRecord {
  pieceCount: number;
  bitfieldBase64: string;
}

async function verifiedPieces(path: string): Promise<{ verified: number; pieceCount: number } | undefined> {
  try {
    const record = JSON.parse(await readFile(path, 'utf8')) as ResumeRecord;
    const bits = Buffer.from(record.bitfieldBase64, 'base64');
    return { verified: countSetBits(bits, record.pieceCount), pieceCount: record.pieceCount };
  } catch {
    return undefined; // not written yet
  }
}

describe('an agent killed and restarted mid-download', () => {
  it('continues where it stopped and installs the endorsed image', async () => {
    const seeder = await startAgent('seeder', join(r.dir, 'seeder'), agentConfig(r.site, 'seeder'));
    await installedPath(seeder, r.imageId);

    // Slow enough to be stopped in the middle; peers only, so every byte is counted.
    const config = agentConfig(r.site, 'hv1', {
      transfer: { webSeed: { enabled: false }, downloadLimitBytesPerSecond: 3 * 1024 * 1024 },
    });
    const dataDir = join(r.dir, 'hv1');
    let agent: Agent = await startAgent('hv1', dataDir, config);
    const { infoHash } = await untilStatus(agent, 'downloading', 60_000, (s) => s.transfers[0]);
    const resumePath = join(dataDir, 'staging', infoHash, RESUME_FILE);
    // Killed once the durable resume record vouches for at least a third of the pieces.
    const atKill = await waitFor('a third of the pieces verified', 60_000, async () => {
      const v = await verifiedPieces(resumePath);
      return v && v.verified >= v.pieceCount / 3 && v.verified < v.pieceCount ? v : undefined;
    });
    await agent.kill();
    const record = await verifiedPieces(resumePath);
    expect(record?.verified).toBeGreaterThanOrEqual(atKill.verified);

    agent = await startAgent('hv1', dataDir, config);
    const resumed = await untilStatus(agent, 'transfer resumed', 60_000, (s) => {
      const t = s.transfers[0];
      return t && t.progress > 0 ? t : undefined;
    });
    // Every piece vouched for before the kill counts as done at once, without a byte received.
    const verifiedFraction = (record?.verified ?? 0) / (record?.pieceCount ?? 1);
    expect(resumed.progress).toBeGreaterThanOrEqual(verifiedFraction - 1e-9);
    let maxReceived = resumed.receivedBytes;
    await agent.setRates({ downloadLimitBytesPerSecond: 0 });
    const path = await untilStatus(agent, 'installed', 90_000, (s) => {
      for (const t of s.transfers) maxReceived = Math.max(maxReceived, t.receivedBytes);
      return s.installed.find((e) => e.entryId === r.imageId)?.path;
    });
    expect(await sha256OfFile(path)).toBe(r.imageSha256);
    // The restarted agent fetched at most what the record did not vouch for.
    expect(maxReceived).toBeLessThanOrEqual((1 - verifiedFraction) * r.imageBytes + 64 * 1024);
  }, 240_000);
});
