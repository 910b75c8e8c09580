import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op, RetryPolicy } from '../../src/index.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { TemporalHarness } from './harness.ts';

const KEYS = 60;
const fan = op({ name: 'shard_fan', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < KEYS; i++) yield new DynamicOutput(i, `k${i}`);
});
/** Each item carries ~10 KB, so the fan-out list (600 KB) is stored, not returned inline. */
const heavyFan = op({ name: 'shard_heavy_fan', out: new DynamicOut<{ i: number; pad: string }>() }, async function* () {
  for (let i = 0; i < KEYS; i++) yield new DynamicOutput({ i, pad: 'x'.repeat(10_000) }, `h${i}`);
});
const square = op({ name: 'shard_square' }, async (_ctx, x: number) => x * x);
const unpad = op({ name: 'shard_unpad' }, async (_ctx, x: { i: number; pad: string }) => x.i + x.pad.length);
const failOn = op({ name: 'shard_fail_on_42', retryPolicy: new RetryPolicy({ maxRetries: 0 }) }, async (_ctx, x: number) => {
  if (x === 42 * 42) throw new Error('42 is the answer, not an input');
  return x;
});
const total = op({ name: 'shard_total' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const count = op({ name: 'shard_count' }, async (_ctx, xs: unknown[]) => xs.length);
const addTotal = op({ name: 'shard_add_total' }, async (_ctx, x: number, t: number) => x + t);

const sumOfSquares = Array.from({ length: KEYS }, (_, i) => i * i).reduce((a, b) => a + b, 0);

function shardedJob(mode: FanOutMode) {
  return job({ name: `sharded_${mode}` }, () => {
    const squares = fan().map(square, { mode, shardSize: 25, ...(mode === 'batch' ? { batchSize: 4 } : {}) });
    const sum = total(squares.collect());
    // A barrier: the second stage needs the collect of the first, across shards.
    total.alias('shifted_total')(squares.map((s) => addTotal(s, sum)).collect());
    count(fan().collect());
  });
}

const storedFanOut = job({ name: 'sharded_stored_items' }, () => {
  const items = heavyFan();
  total(items.map(unpad, { mode: 'activity' }).collect());
  count.alias('raw_count')(items.collect());
});

const shardedFailure = job({ name: 'sharded_failure' }, () => {
  total(
    fan()
      .map((x) => failOn(square(x)), { shardSize: 20, mode: 'activity' })
      .collect(),
  );
});

describe('large fan-outs run in shard workflows', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it.each(['child', 'activity', 'batch'] as const)(
    '%s mode: 60 keys in shards of 25 give the exact results, stages included',
    async (mode) => {
      const { run, result } = await harness.runWithHandle(shardedJob(mode));
      expect(result.failures).toEqual([]);
      expect(await result.outputFor('shard_total')).toBe(sumOfSquares);
      expect(await result.outputFor('shifted_total')).toBe(sumOfSquares + KEYS * sumOfSquares);
      expect(await result.outputFor('shard_count')).toBe(KEYS);
      const squares = (await result.outputFor('shard_square')) as Map<string, number>;
      expect([...squares.keys()]).toEqual(Array.from({ length: KEYS }, (_, i) => `k${i}`));
      expect(squares.get('k7')).toBe(49);
      expect(result.stepStatus('shard_add_total[k59]')).toBe('SUCCESS');
      // The job workflow only sees shards: 3 per stage.
      const history = await harness.client.workflow.getHandle(run.workflowId).fetchHistory();
      const children = (history.events ?? []).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
      expect(children).toEqual([
        `${run.workflowId}/shard_fan[shard_0]`,
        `${run.workflowId}/shard_fan[shard_1]`,
        `${run.workflowId}/shard_fan[shard_2]`,
        `${run.workflowId}/shard_fan[shard_0]/stage_2`,
        `${run.workflowId}/shard_fan[shard_1]/stage_2`,
        `${run.workflowId}/shard_fan[shard_2]/stage_2`,
      ]);
    },
  );

  it('a fan-out list too large for a payload is stored, sliced per shard, and collected lazily', async () => {
    const { run, result } = await harness.runWithHandle(storedFanOut);
    expect(result.failures).toEqual([]);
    expect(await result.outputFor('shard_total')).toBe(Array.from({ length: KEYS }, (_, i) => i + 10_000).reduce((a, b) => a + b, 0));
    expect(await result.outputFor('raw_count')).toBe(KEYS);
    const fanOut = (await result.outputFor('shard_heavy_fan')) as Map<string, { i: number }>;
    expect(fanOut.size).toBe(KEYS);
    expect(fanOut.get('h5')?.i).toBe(5);
    expect((await run.handle.describe()).historySize).toBeLessThan(128 * 1024);
  });

  it('a failed key inside a shard fails the run, abandons the collect and is reported by step key', async () => {
    const result = await harness.run(shardedFailure);
    expect(result.success).toBe(false);
    expect(result.failures.map((f) => f.stepKey)).toEqual(['shard_fail_on_42[k42]']);
    expect(result.failures[0]?.message).toContain('42 is the answer');
    expect(result.stepStatus('shard_total')).toBe('ABANDONED');
    expect(result.stepStatus('shard_fail_on_42[k41]')).toBe('SUCCESS');
    expect(Object.keys(result.stepStatuses()).filter((k) => k.startsWith('shard_square['))).toHaveLength(KEYS);
  });
});
