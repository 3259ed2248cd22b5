import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Real databases, real pools and child processes: generous, but bounded.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file may hold a PGlite (~750 MB) and child servers; two at a time fit 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    allowOnly: false,
  },
});
