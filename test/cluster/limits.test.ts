/**
 * Limits that only a SQL-backed Temporal server has. PostgreSQL keeps workflow ids in VARCHAR(255)
 * columns, so the server rejects longer ids (limit.maxIDLength 255, as in the module's
 * development-sql.yaml and our compose stack); the dev server allows 1,000.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchRun } from '../../src/client/run.ts';
import type { JobResult } from '../../src/client/result.ts';
import { awaitRun } from '../../src/client/run.ts';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { MAX_MAPPING_KEY_LENGTH } from '../../src/dsl/keys.ts';
import { TemporalHarness } from '../integration/harness.ts';

const LONG_KEY = 'k'.repeat(MAX_MAPPING_KEY_LENGTH);
const emit = op({ name: 'limits_emit_records', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, LONG_KEY);
  yield new DynamicOutput(2, 'short');
});
const inc = op({ name: 'limits_inc' }, async (_ctx, x: number) => x + 1);
const sum = op({ name: 'limits_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
/** Child id: `<job>-<run id>/limits_emit_records[<200 × k>]`, 282 characters. */
const longKeys = job({ name: 'limits_long_mapping_key' }, () => {
  sum(emit().map(inc).collect());
});

describe('a SQL-backed server: workflow ids of at most 255 characters', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  // Found by this suite: a 200-character mapping key made the child id 282 characters long; the server refused
  // StartChildWorkflowExecution (BadStartChildExecutionAttributes), the job's workflow task failed and was retried
  // forever, and the run hung. Ids over 255 characters are now shortened with a hash (patched('opgraph-bounded-ids')).
  it('a 200-character mapping key in child mode: the run finishes (its 282-character child id is shortened to 255)', async () => {
    await harness.withWorker([longKeys], async (taskQueue) => {
      const run = await launchRun(harness.client, longKeys, { taskQueue });
      try {
        const result = await Promise.race([
          awaitRun(run),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000)),
        ]);
        expect(result, 'the run did not finish within 30 s').toBeDefined();
        expect((result as JobResult).success).toBe(true);
        expect(await (result as JobResult).outputFor('limits_sum')).toBe(5);
      } finally {
        await run.handle.terminate('test over').catch(() => undefined);
      }
    });
  }, 60_000);
});
