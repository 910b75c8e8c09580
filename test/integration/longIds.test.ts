/**
 * Ids within the 255 characters a SQL-backed Temporal server allows (test/cluster/limits.test.ts runs
 * the same on PostgreSQL): long mapping keys and nested scopes make child and activity ids longer, and
 * those are shortened to a prefix plus a hash of the whole (patched('opgraph-bounded-ids')).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { MAX_MAPPING_KEY_LENGTH, shortenId } from '../../src/dsl/keys.ts';
import { TEMPORAL } from '../../src/dsl/limits.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { TemporalHarness } from './harness.ts';

const A = 'a'.repeat(MAX_MAPPING_KEY_LENGTH);
const B = 'b'.repeat(MAX_MAPPING_KEY_LENGTH);
const outer = op({ name: 'long_outer', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, A);
  yield new DynamicOutput(2, B);
});
const inner = op({ name: 'long_inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  yield new DynamicOutput(x * 10, A);
  yield new DynamicOutput(x * 10 + 1, B);
});
const inc = op({ name: 'long_inc' }, async (_ctx, x: number) => x + 1);
const sum = op({ name: 'long_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));

function nestedJob(mode: FanOutMode) {
  return job({ name: `long_ids_${mode}` }, () => {
    sum(
      outer()
        .map((x) => sum.alias('inner_sum')(inner(x).map(inc, { mode }).collect()), { mode })
        .collect(),
    );
  });
}

describe('child and activity ids stay within 255 characters', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('shortenId keeps ids that fit, and shortens distinct long ids to distinct ids of exactly the limit', () => {
    expect(shortenId('short', 255)).toBe('short');
    const one = shortenId(`x/${A}${B}`, 255);
    const two = shortenId(`x/${A}${A}`, 255);
    expect(one).toHaveLength(255);
    expect(two).toHaveLength(255);
    expect(one).not.toBe(two);
    expect(shortenId(`x/${A}${B}`, 255)).toBe(one);
  });

  for (const mode of ['child', 'activity'] as const) {
    it(`nested 200-character keys in ${mode} mode: the run succeeds and no id in its histories is over 255`, async () => {
      const { run, result } = await harness.runWithHandle(nestedJob(mode));
      expect(result.success).toBe(true);
      expect(await result.outputFor('long_sum')).toBe(10 + 1 + 11 + 1 + 20 + 1 + 21 + 1);
      const ids: string[] = [];
      const visit = async (workflowId: string): Promise<void> => {
        const events = (await harness.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
        for (const e of events) {
          const activity = e.activityTaskScheduledEventAttributes?.activityId;
          if (activity) ids.push(activity);
          const child = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
          if (child) {
            ids.push(child);
            await visit(child);
          }
        }
      };
      await visit(run.workflowId);
      expect(ids.some((id) => id.length > 200)).toBe(true);
      expect(ids.filter((id) => id.length > TEMPORAL.maxIdLength)).toEqual([]);
    }, 120_000);
  }
});
