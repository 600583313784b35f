import { defineConfig } from 'vitest/config';

// One run covers unit, native, integration and end-to-end tests. Integration tests share one
// PostgreSQL (embedded unless DATABASE_URL is set) started by the global setup; each test file
// works in a schema of its own.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'web/src/**/*.test.{ts,tsx}'],
    globalSetup: ['test/setup/global-db.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
