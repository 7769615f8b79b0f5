import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/e2e holds the end-to-end harness (run by `npm run test:e2e`); only its unit tests run here.
    exclude: ['test/e2e/scenarios/**', 'test/e2e/exthost/**', 'node_modules/**'],
    testTimeout: 60_000,
    globalSetup: ['test/debug/setup-build.ts'],
  },
});
