import { defineConfig } from 'vitest/config';

// Two projects: pure unit tests (fast, parallel) and integration tests that build
// network namespaces and run real peers (root only, run one file at a time so
// timing-sensitive failover measurements do not fight over the 2 CPU cores).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
});
