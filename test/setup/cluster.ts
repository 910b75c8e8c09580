import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { startCluster } from '../../src/server/cluster.ts';
import { INTERPRETER_BUNDLE } from '../../src/worker/createWorker.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by this setup only (`npm run test:cluster`): what the suite's server is. */
    temporalCluster: { version: string; numHistoryShards: number; postgresMajor: number; dir: string; startSeconds: number };
  }
}

/**
 * `npm run test:cluster` (vitest.cluster.config.ts): ONE real Temporal server — go.temporal.io/server
 * built from source (once, cached) on a throwaway PostgreSQL — for the whole run, provided under the
 * same key as the dev server's (`temporalAddress`), so the integration test files run unchanged.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const say = (line: string): void => console.error(`[cluster setup +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
  const cluster = await startCluster({ onProgress: say });
  const dir = mkdtempSync(join(tmpdir(), 'opgraph-cluster-test-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ ...INTERPRETER_BUNDLE, logger: silentLogger });
  writeFileSync(bundlePath, code);
  say(
    `Temporal server ${cluster.version} at ${cluster.address} (${cluster.numHistoryShards} history shards, PostgreSQL ${cluster.postgres.major}), ` +
      `interpreter bundled; server log ${cluster.serverLogPath}`,
  );
  project.provide('temporalAddress', cluster.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalCluster', {
    version: cluster.version,
    numHistoryShards: cluster.numHistoryShards,
    postgresMajor: cluster.postgres.major,
    dir: cluster.dir,
    startSeconds: cluster.timings.total,
  });
  return async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

const silentLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string) => console.error(message),
  log: () => {},
};
