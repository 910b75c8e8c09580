import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResult } from '../../src/client/result.ts';
import type { LaunchedRun } from '../../src/client/run.ts';
import { DynamicOut, DynamicOutput, job, op, Out, Output, RetryPolicy } from '../../src/index.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { TemporalHarness } from './harness.ts';

const fan = op({ name: 'modes_fan', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 10; i++) yield new DynamicOutput(i, `k${i}`);
});
const double = op({ name: 'modes_double' }, async (_ctx, x: number) => x * 2);
/** Skips key k3 (optional output not produced). */
const keepUnlessSix = op({ name: 'modes_keep', out: new Out<number>({ isRequired: false }) }, async function* (_ctx, x: number) {
  if (x !== 6) yield new Output(x);
});
/** Fails for key k8 after one retry; k5 fails once and succeeds on its retry. */
const check = op({ name: 'modes_check', retryPolicy: new RetryPolicy({ maxRetries: 1 }) }, async (ctx, x: number) => {
  if (x === 16) throw new Error(`value ${x} is not allowed`);
  if (x === 10 && ctx.attempt === 1) throw new Error('flaky once');
  return x + 1;
});
const sum = op({ name: 'modes_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const innerFan = op({ name: 'modes_inner_fan', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  for (let j = 0; j < 2; j++) yield new DynamicOutput(x * 10 + j, `j${j}`);
});

function modesJob(mode: FanOutMode) {
  const batch = (size: number) => (mode === 'batch' ? { batchSize: size } : {});
  return job({ name: `modes_${mode}` }, () => {
    const kept = fan().map((x) => keepUnlessSix(double(x)), { mode, ...batch(3), maxConcurrency: 2 });
    sum.alias('checked_total')(kept.map(check).collect());
    sum.alias('kept_total')(kept.collect());
    // Nested fan-out inside the same per-key scope.
    const nested = fan().map((x) => sum.alias('inner_total')(innerFan(x).map(double).collect()), { mode, ...batch(4) });
    sum.alias('nested_total')(nested.collect());
  });
}

const jobs = { child: modesJob('child'), activity: modesJob('activity'), batch: modesJob('batch') };

describe('fan-out modes give identical results and step statuses', () => {
  let harness: TemporalHarness;
  const runs = {} as Record<FanOutMode, { run: LaunchedRun; result: JobResult }>;

  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    for (const mode of ['child', 'activity', 'batch'] as const) runs[mode] = await harness.runWithHandle(jobs[mode]);
  }, 180_000);
  afterAll(async () => harness?.close());

  it('child mode: statuses and values follow the spec', async () => {
    const { result } = runs.child;
    expect(result.success).toBe(false);
    expect(result.failures.map((f) => f.stepKey)).toEqual(['modes_check[k8]']);
    // An op that does not yield its optional output succeeds; its consumers skip.
    expect(result.stepStatus('modes_keep[k3]')).toBe('SUCCESS');
    expect(result.stepStatus('modes_check[k3]')).toBe('SKIPPED');
    expect(result.stepStatus('modes_check[k5]')).toBe('SUCCESS');
    expect(result.steps()['modes_check[k5]']?.attempts).toBe(2);
    expect(result.steps()['modes_check[k8]']?.attempts).toBe(2);
    expect(result.stepStatus('checked_total')).toBe('ABANDONED');
    expect(await result.outputFor('kept_total')).toBe(90 - 6);
    expect(await result.outputFor('nested_total')).toBe(Array.from({ length: 10 }, (_, x) => 2 * (20 * x + 1)).reduce((a, b) => a + b, 0));
    expect(result.stepStatus('modes_double_2[k4,j1]')).toBe('SUCCESS');
  });

  it.each(['activity', 'batch'] as const)('%s mode matches child mode exactly', async (mode) => {
    const child = runs.child.result;
    const other = runs[mode].result;
    expect(other.stepStatuses()).toEqual(child.stepStatuses());
    for (const node of ['modes_keep', 'modes_check', 'kept_total', 'nested_total', 'inner_total', 'modes_double_2']) {
      expect(await other.outputFor(node)).toEqual(await child.outputFor(node));
    }
    const failures = (r: JobResult) => r.failures.map((f) => ({ ...f, message: f.message.replace(/modes_\w+ /, 'JOB ') }));
    expect(failures(other)).toEqual(failures(child));
    expect(Object.fromEntries(Object.entries(other.steps()).map(([k, r]) => [k, r.attempts]))).toEqual(
      Object.fromEntries(Object.entries(child.steps()).map(([k, r]) => [k, r.attempts])),
    );
  });

  it('activity mode runs each key as activities of the job workflow (no children for its keys)', async () => {
    const { run } = runs.activity;
    const history = await harness.client.workflow.getHandle(run.workflowId).fetchHistory();
    const events = history.events ?? [];
    // Only the inner fan-out (default mode: child) starts children; the modes_fan keys do not.
    const children = events.flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
    expect(children.filter((id) => id.includes('/modes_fan'))).toEqual([]);
    expect(children).toContain(`${run.workflowId}/modes_inner_fan[k4,j1]`);
    const ids = events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityId ?? []);
    expect(ids).toContain('modes_double[k7]');
    expect(ids).toContain('inner_total[k4]');
  });

  it('batch mode runs keys in batches of batchSize, one activity each', async () => {
    const { run } = runs.batch;
    const history = await harness.client.workflow.getHandle(run.workflowId).fetchHistory();
    const batches = (history.events ?? []).flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a?.activityType?.name === '__opgraph_batch' ? [a.activityId] : [];
    });
    // 10 keys: 4 batches of ≤3 for the first map, 3 batches of ≤4 for the nested one.
    expect(batches).toHaveLength(7);
    expect(batches).toContain('modes_fan[batch_0:k0..k2]');
  });
});
