/**
 * Model-based test: a fixed-seed sample of random jobs (test/model/ast.ts), each run in child,
 * activity and batch modes on the real server, must match the reference evaluator exactly.
 * More: `npm run fuzz -- --runs N --seed S`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installRuntimeLogger } from '../../src/logging.ts';
import { TemporalHarness } from '../integration/harness.ts';
import { modelJobArb } from './ast.ts';
import { makeCase, runCases, type Mismatch } from './check.ts';

const SEED = 20261123;
const RUNS = 60;
const cases = fc
  .sample(modelJobArb({ twoDynamicOutputs: true }), { seed: SEED, numRuns: RUNS })
  .map((model, i) => makeCase(model, `mdl${i}`));

describe(`model-based: ${RUNS} generated jobs (seed ${SEED}) × child, activity, batch`, () => {
  let harness: TemporalHarness;
  let results: Map<string, Mismatch[]>;
  beforeAll(async () => {
    // Failing ops are expected here: keep the worker's per-failure warnings out of the test output.
    installRuntimeLogger(process.env.OPGRAPH_LOG_LEVEL ?? 'ERROR');
    harness = await TemporalHarness.connect();
    results = await harness.withWorker(
      cases.flatMap((c) => Object.values(c.jobs)),
      (taskQueue) => runCases(harness.client, taskQueue, cases, 6),
    );
  }, 300_000);
  afterAll(async () => harness?.close());

  it.each(cases.map((c) => [c.prefix, c] as const))('%s matches the reference in every mode', (prefix, c) => {
    const mismatches = results.get(prefix);
    expect(mismatches, `job ${JSON.stringify(c.model)}`).toEqual([]);
  });
});
