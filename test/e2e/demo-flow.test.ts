// The demo's flow as a test across real processes: catalog server, endorser CLI, three
// agents over BitTorrent and the CVMFS bridge, each its own process, on 127.0.0.1.

import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../demo/lib/processes.js';

describe('the whole flow (npm run demo)', () => {
  it('endorses, approves, distributes over BitTorrent and publishes into CVMFS', async () => {
    const r = await execa(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      [join(ROOT, 'test', 'demo', 'flow.ts'), '--image-mib', '24'],
      { cwd: ROOT, reject: false, timeout: 240_000 },
    );
    const out = String(r.stdout);
    expect(String(r.stderr)).not.toMatch(/demo failed/);
    expect(r.exitCode).toBe(0);
    expect(out).toMatch(/all 3 agents installed alma9-kvm; sha256 matches the endorsed [0-9a-f]{16}/);
    expect(out).toMatch(/README read back through the verifying reader matches/);
    expect(out).toMatch(/TrustSwarm demo: done in \d+\.\d s/);
  }, 300_000);
});
