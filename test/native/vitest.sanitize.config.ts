// The sanitizer run's tests (scripts/sanitize.sh): the native tests, the native fault regressions
// and the hostile-input corpus, against the addon TADS_NATIVE_ADDON names. No database: none of
// them needs one, and its server must not start under the preloaded sanitizer runtime.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/native/**/*.test.ts', 'test/regressions/1[0-2]-*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
  },
});
