/**
 * A nested map whose inner chained map is split by a barrier on the OUTER dimension (the inner map's
 * second op also takes a collect of the outer map): the outer keys' second stage continues the inner
 * map with the first stage's deeper records (opgraph-nested-stage-prior). Found by the model-based
 * tests (fuzz seed 99); before the fix every inner step of the second stage was ABANDONED.
 * Each path the records take is run here: inline in a child's input, in a child's stored result
 * parts (loaded as the key starts), in every mode, and through shards at either level.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLICE_ACTIVITY } from '../../src/dsl/constants.ts';
import { nestedStageConfig, nestedStageExpected, nestedStageJob, type NestedStageOptions } from '../replay/jobs.ts';
import { TemporalHarness } from './harness.ts';

// The stored-parts case needs results big enough to spill: 3 × 120 inner keys × 2 stages = 720 child
// workflows, about 50 s on a quiet 2-core machine, so it gets a longer limit than vitest's 60 s default.
const cases: { name: string; options: NestedStageOptions; timeoutMs?: number }[] = [
  { name: 'child mode, records inline in each child input', options: { innerKeys: 3 } },
  { name: 'child mode, deeper records in stored result parts', options: { innerKeys: 120 }, timeoutMs: 240_000 },
  { name: 'activity mode', options: { innerKeys: 20, outerMode: 'activity', innerMode: 'activity' } },
  { name: 'batch mode', options: { innerKeys: 40, outerMode: 'batch', innerMode: 'batch' } },
  { name: 'outer map sharded', options: { innerKeys: 12, outerShardSize: 2, innerMode: 'activity' } },
  { name: 'inner map sharded inside each outer key', options: { innerKeys: 12, innerShardSize: 5 } },
];

describe('a nested chained map split by a barrier on the outer dimension', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  cases.forEach(({ name, options, timeoutMs }, index) => {
    it(
      `${name}: every inner step runs, sums are right`,
      async () => {
        const job = nestedStageJob(`nested_stage_${index}`, options);
        const { run, result } = await harness.runWithHandle(job, { runConfig: nestedStageConfig(options.innerKeys) });
        const statuses = Object.values(result.stepStatuses());
        expect(statuses.filter((s) => s !== 'SUCCESS')).toEqual([]);
        // 3 outer keys: ten, inner fan-out, per inner key inc + add, inner sum; plus the outer fan-out and two sums.
        expect(statuses).toHaveLength(3 + 3 * (3 + 2 * options.innerKeys));
        const expected = nestedStageExpected(options.innerKeys);
        expect(await result.outputFor('inner_sum')).toEqual(expected.inner);
        expect(await result.outputFor('grand_sum')).toBe(expected.grand);

        if (index === 1) {
          // The second stage of key b started from its stored first-stage parts: one slice activity loaded them.
          const history = await harness.client.workflow.getHandle(`${run.workflowId}/nest_outer[b]/stage_2`).fetchHistory();
          const types = (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
          expect(types.filter((t) => t === SLICE_ACTIVITY)).toHaveLength(1);
        }
      },
      timeoutMs,
    );
  });
});
