// Where the engine accepts peers: on the configured address only (tests bind 127.0.0.1), on
// every interface when none is set; an address this host does not have stops the start with
// one clear error; the config takes IP addresses only.

import { describe, expect, it } from 'vitest';
import { transferConfigSchema } from '../src/config-schema.js';
import { defaultTransferConfig, TransferEngine } from '../src/transfer/engine.js';

const config = { ...defaultTransferConfig, torrentPort: 0, dht: { enabled: true, bootstrap: [], port: 0 } };

describe('transfer.listenAddress', () => {
  it('binds the peer port and the DHT node to the address given, and to every interface by default', async () => {
    const bound = await TransferEngine.start({ ...config, listenAddress: '127.0.0.1' });
    const all = await TransferEngine.start({ ...config, listenAddress: '' });
    try {
      expect(bound.address).toBe('127.0.0.1');
      expect(bound.dhtAddress).toBe('127.0.0.1');
      expect(['0.0.0.0', '::']).toContain(all.address);
    } finally {
      await bound.destroy();
      await all.destroy();
    }
  });

  it('refuses to start on an address this host does not have', async () => {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, never a local address
    await expect(TransferEngine.start({ ...config, listenAddress: '192.0.2.1' })).rejects.toThrow(
      /192\.0\.2\.1/,
    );
  });

  it('takes an IPv4 or IPv6 address or nothing, not a host name', () => {
    expect(transferConfigSchema.parse({ listenAddress: '::1' }).listenAddress).toBe('::1');
    expect(transferConfigSchema.parse({}).listenAddress).toBe('');
    expect(transferConfigSchema.safeParse({ listenAddress: 'hv1.site' }).success).toBe(false);
  });
});
