import { defineConfig } from 'vitest/config';

// One vitest run for the whole workspace; packages resolve each other's TypeScript
// sources through the "@trustswarm/source" export condition, so tests need no build.
export default defineConfig({
  resolve: { conditions: ['@trustswarm/source'] },
  ssr: { resolve: { conditions: ['@trustswarm/source'] } },
  test: {
    include: ['*/test/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
