import { defineConfig } from 'vitest/config';

/** `npm run chaos`: the fault-injection suite alone, one file at a time (it kills and restarts processes). */
export default defineConfig({
  // the workspace packages from their TypeScript sources (package.json `source` condition), not their built dist/
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
