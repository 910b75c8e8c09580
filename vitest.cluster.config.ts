import { defineConfig } from 'vitest/config';

/**
 * `npm run test:cluster`: the same jobs against a real Temporal server (go.temporal.io/server, the
 * version docker-compose.yml runs) on PostgreSQL, with 4 history shards and SQL visibility, started
 * by test/setup/cluster.ts. The integration files below run unchanged: they read the server's address
 * with inject('temporalAddress'), which that setup provides.
 */
export default defineConfig({
  test: {
    include: [
      'test/cluster/**/*.test.ts',
      // The seed jobs (nested fan-out: seed-fanout option C), a large-value job, start by name, the budget.
      'test/integration/dynamicGraph.test.ts',
      'test/integration/seed-guide.test.ts',
      'test/integration/seed-letters.test.ts',
      'test/integration/seed-fanout.test.ts',
      'test/integration/seed-api-reference.test.ts',
      'test/integration/largeValues.test.ts',
      'test/integration/startByName.test.ts',
      'test/integration/budget.test.ts',
      // Redrive in place with a worker SIGKILLed in the middle of it.
      'test/crash/redrive.test.ts',
    ],
    globalSetup: ['test/setup/cluster.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two files at a time, also on 2 cores (vitest's default there is one): the budget file spends most of its time
    // waiting for the server to start children (see bench/RESULTS.md §5), so the other files run beside it.
    maxWorkers: 2,
    reporters: ['default', './test/setup/summaryReporter.ts'],
  },
});
