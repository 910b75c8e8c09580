import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { OPGRAPH_SEARCH_ATTRIBUTES } from '../../src/searchAttributes.ts';
import { startDevServer } from '../../src/server/devServer.ts';
import { INTERPRETER_BUNDLE } from '../../src/worker/createWorker.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

/**
 * Starts ONE headless dev server for the whole suite (building the Temporal CLI first if this
 * machine has none) and bundles the interpreter once, so each test file's workers start fast.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const server = await startDevServer({ onNotice: (m) => console.error(`[test setup] ${m}`), searchAttributes: OPGRAPH_SEARCH_ATTRIBUTES });
  const dir = mkdtempSync(join(tmpdir(), 'opgraph-test-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ ...INTERPRETER_BUNDLE, logger: silentLogger });
  writeFileSync(bundlePath, code);
  console.error(
    `[test setup] Temporal dev server at ${server.address}, interpreter bundled (${((Date.now() - started) / 1000).toFixed(1)}s)`,
  );
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await server.stop();
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
