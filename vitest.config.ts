import { defineConfig } from 'vitest/config';

export default defineConfig({
  // the workspace packages from their TypeScript sources (package.json `source` condition), not their built dist/
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/support/test-redis-setup.ts'],
  },
});
