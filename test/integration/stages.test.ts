import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { TemporalHarness } from './harness.ts';

const numbers = op({ name: 'stage_numbers', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a');
  yield new DynamicOutput(2, 'b');
  yield new DynamicOutput(3, 'c');
});
const timesTen = op({ name: 'times_ten' }, async (_ctx, x: number) => x * 10);
const total = op({ name: 'stage_total' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const addTotal = op({ name: 'add_total' }, async (_ctx, x: number, t: number) => x + t);

/** A dimension that needs a collect of itself: `r = d.map(a); s = total(r.collect()); r.map(v => b(v, s))`. */
const barrier = job({ name: 'stage_barrier' }, () => {
  const tens = numbers().map(timesTen);
  const sum = total(tens.collect());
  const shifted = tens.map((v) => addTotal(v, sum));
  total.alias('grand_total')(shifted.collect());
});

describe('a dimension that depends on its own collect runs in stages', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('plans times_ten in stage 1 and add_total in stage 2 of the same dimension', () => {
    const stages = Object.fromEntries(barrier.plan.nodes.map((n) => [n.id, n.stages]));
    expect(stages).toEqual({ stage_numbers: [], times_ten: [0], stage_total: [], add_total: [1], grand_total: [] });
  });

  it('computes through the barrier without deadlock: [70, 80, 90] → 240', async () => {
    const { run, result } = await harness.runWithHandle(barrier);
    expect(result.success).toBe(true);
    expect(await result.outputFor('stage_total')).toBe(60);
    expect(await result.outputFor('add_total')).toEqual(
      new Map([
        ['a', 70],
        ['b', 80],
        ['c', 90],
      ]),
    );
    expect(await result.outputFor('grand_total')).toBe(240);
    const history = await harness.client.workflow.getHandle(`${run.workflowId}/stage_numbers[b]/stage_2`).fetchHistory();
    const activities = (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityId ?? []);
    expect(activities).toEqual(['add_total[b]']);
  });
});
