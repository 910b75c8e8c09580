import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/cluster needs the PostgreSQL-backed server: `npm run test:cluster` (vitest.cluster.config.ts).
    exclude: [...configDefaults.exclude, 'test/cluster/**'],
    // One real Temporal dev server for the whole suite (integration tests inject its address), and one MinIO
    // for the S3 store's tests under test/s3/ (built and started only when the run includes them).
    globalSetup: ['test/setup/temporal.ts', 'test/setup/minio.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default', './test/setup/summaryReporter.ts'],
  },
});
