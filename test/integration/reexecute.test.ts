/**
 * Re-execute from failure (issue 11): a new run of the parent's plan and run config takes over every
 * succeeded step's record and runs only failed steps and what they abandoned. A per-step ledger proves
 * which steps ran; the collect holds every key's value in yield order; the new run names its parent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { awaitRun, launchRun, PARENT_RUN_MEMO } from '../../src/client/run.ts';
import { reexecuteRun } from '../../src/client/reexecute.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { TemporalHarness } from './harness.ts';

/** Keys that fail until the flag flips (stands in for a fix deployed between the runs). */
const FAILING = new Set(['k7', 'k100', 'k150']);
let fixed = false;
const ledger: string[] = [];

const keys = op({ name: 'rx_keys', out: new DynamicOut<number>() }, async function* (ctx) {
  ledger.push(ctx.stepKey);
  for (let i = 0; i < 200; i++) yield new DynamicOutput(i, `k${i}`);
});
const check = op({ name: 'rx_check' }, async (ctx, x: number) => {
  ledger.push(ctx.stepKey);
  if (!fixed && FAILING.has(ctx.mappingKeys[ctx.mappingKeys.length - 1] ?? '')) throw new Error(`bad data at ${ctx.stepKey}`);
  return x;
});
const double = op({ name: 'rx_double' }, async (ctx, x: number) => {
  ledger.push(ctx.stepKey);
  return x * 2;
});
const total = op({ name: 'rx_total' }, async (ctx, xs: number[]) => {
  ledger.push(ctx.stepKey);
  return xs.reduce((a, b) => a + b, 0);
});
const inner = op({ name: 'rx_inner', out: new DynamicOut<number>() }, async function* (ctx, x: number) {
  ledger.push(ctx.stepKey);
  for (let j = 0; j < 3; j++) yield new DynamicOutput(x * 10 + j, `j${j}`);
});
const FAILING_NESTED = new Set(['k7,j1', 'k15,j2']);
const fewKeys = op({ name: 'rx_few_keys', out: new DynamicOut<number>() }, async function* (ctx) {
  ledger.push(ctx.stepKey);
  for (let i = 0; i < 20; i++) yield new DynamicOutput(i, `k${i}`);
});
const nestedCheck = op({ name: 'rx_nested_check' }, async (ctx, x: number) => {
  ledger.push(ctx.stepKey);
  if (!fixed && FAILING_NESTED.has(ctx.mappingKeys.join(','))) throw new Error(`bad data at ${ctx.stepKey}`);
  return x;
});

function flatJob(name: string, mode: FanOutMode, shardSize?: number) {
  return job({ name }, () => {
    const options = { mode, ...(shardSize ? { shardSize } : {}) };
    total(keys().map(check, options).map(double, options).collect());
  });
}

describe('re-execute from failure', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  const cases: { name: string; mode: FanOutMode; shardSize?: number }[] = [
    { name: 'child mode', mode: 'child' },
    { name: 'activity mode', mode: 'activity' },
    { name: 'batch mode', mode: 'batch' },
    { name: 'sharded map (shards of 50)', mode: 'activity', shardSize: 50 },
  ];
  cases.forEach(({ name, mode, shardSize }, index) => {
    it(`${name}: only the 3 failed keys, their downstream and the collect run again`, async () => {
      const definition = flatJob(`rx_flat_${index}`, mode, shardSize);
      await harness.withWorker([definition], async (taskQueue) => {
        fixed = false;
        ledger.length = 0;
        const parent = await awaitRun(await launchRun(harness.client, definition, { taskQueue }));
        expect(parent.success).toBe(false);
        expect(parent.failures.map((f) => f.stepKey).sort()).toEqual(['rx_check[k100]', 'rx_check[k150]', 'rx_check[k7]']);

        fixed = true;
        ledger.length = 0;
        const run = await reexecuteRun(harness.client, parent.workflowId, { fromFailure: true });
        const result = await awaitRun(run);
        expect(result.success).toBe(true);
        const expectedRan = [...FAILING].flatMap((k) => [`rx_check[${k}]`, `rx_double[${k}]`]).concat('rx_total');
        expect([...ledger].sort()).toEqual([...expectedRan].sort());
        expect(run.reused).toBe(1 + 197 * 2);
        expect(result.reusedStepKeys()).toHaveLength(1 + 197 * 2);
        expect(result.ranStepKeys().sort()).toEqual([...expectedRan].sort());
        // The collect holds all 200 values, in yield order.
        expect(await result.outputFor('rx_total')).toBe(2 * ((199 * 200) / 2));
        const doubled = (await result.outputFor('rx_double')) as Map<string, number>;
        expect([...doubled.keys()]).toEqual(Array.from({ length: 200 }, (_, i) => `k${i}`));
        const description = await run.handle.describe();
        expect(description.memo?.[PARENT_RUN_MEMO]).toMatchObject({ workflowId: parent.workflowId, reused: 395 });
      });
    }, 300_000);
  });

  it('nested map: failed inner keys re-run alone; a selected succeeded step runs too', async () => {
    const nested = job({ name: 'rx_nested' }, () => {
      const perKey = fewKeys().map((x) => total.alias('inner_total')(inner(x).map(nestedCheck).collect()));
      total(perKey.collect());
    });
    await harness.withWorker([nested], async (taskQueue) => {
      fixed = false;
      ledger.length = 0;
      const parent = await awaitRun(await launchRun(harness.client, nested, { taskQueue }));
      expect(parent.success).toBe(false);
      expect(parent.failures.map((f) => f.stepKey).sort()).toEqual(['rx_nested_check[k15,j2]', 'rx_nested_check[k7,j1]']);
      fixed = true;
      ledger.length = 0;
      const run = await reexecuteRun(harness.client, parent.workflowId, { fromFailure: true, stepKeys: ['rx_inner[k3]'] });
      const result = await awaitRun(run);
      expect(result.success).toBe(true);
      // From failure, what read a step that runs again runs too: the selected fan-out's keys and its collect.
      expect([...ledger].sort()).toEqual(
        [
          'inner_total[k15]',
          'inner_total[k3]',
          'inner_total[k7]',
          'rx_inner[k3]',
          'rx_nested_check[k15,j2]',
          'rx_nested_check[k3,j0]',
          'rx_nested_check[k3,j1]',
          'rx_nested_check[k3,j2]',
          'rx_nested_check[k7,j1]',
          'rx_total',
        ].sort(),
      );
      // 1 fan-out + 20 × (inner fan-out + 3 checks + inner total) + the total = 102 steps, 10 of which ran.
      expect(result.reusedStepKeys()).toHaveLength(102 - 10);
      expect(await result.outputFor('rx_total')).toBe(Array.from({ length: 20 }, (_, x) => 3 * 10 * x + 3).reduce((a, b) => a + b, 0));
    });
  }, 300_000);

  it('refuses a run that is still running, a succeeded run without a selection, and unknown step keys', async () => {
    const definition = flatJob('rx_refusals', 'batch');
    await harness.withWorker([definition], async (taskQueue) => {
      fixed = true;
      const parent = await awaitRun(await launchRun(harness.client, definition, { taskQueue }));
      expect(parent.success).toBe(true);
      await expect(reexecuteRun(harness.client, parent.workflowId, { fromFailure: true })).rejects.toThrow(/succeeded: nothing failed/);
      await expect(reexecuteRun(harness.client, parent.workflowId, { stepKeys: ['nope'] })).rejects.toThrow(/has no node "nope"/);
      await expect(reexecuteRun(harness.client, parent.workflowId, { stepKeys: ['rx_check[k999]'] })).rejects.toThrow(/did not run/);
      const selected = await awaitRun(await reexecuteRun(harness.client, parent.workflowId, { stepKeys: ['rx_check[k5]'] }));
      expect(selected.success).toBe(true);
      expect(selected.ranStepKeys()).toEqual(['rx_check[k5]']);
    });
  }, 120_000);
});
