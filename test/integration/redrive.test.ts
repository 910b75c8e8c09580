/**
 * Redrive in place (issue 11): with `onStepFailure: 'wait'`, a step that exhausts its retries waits;
 * its siblings go on and the run stays Running with "waiting: N failed steps" in its progress. A
 * redrive runs exactly the failed steps and what is downstream of them, in the same run; a give-up
 * (or the job's redriveTimeout) ends the run as it would have failed. A per-step ledger proves which
 * steps ran; the collect holds every key's value in yield order.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op, RetryPolicy } from '../../src/index.ts';
import { giveUp, redrive, RedriveError } from '../../src/client/redrive.ts';
import { awaitRun, launchRun } from '../../src/client/run.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import type { RunProgress } from '../../src/engine/progress.ts';
import { TemporalHarness } from './harness.ts';

/** Keys that fail until the flag flips (stands in for a fixed worker deployed while the run waits). */
const FAILING = new Set(['k7', 'k100', 'k150']);
let fixed = false;
const ledger: string[] = [];

const keys = op({ name: 'rd_keys', out: new DynamicOut<number>() }, async function* (ctx) {
  ledger.push(ctx.stepKey);
  for (let i = 0; i < 200; i++) yield new DynamicOutput(i, `k${i}`);
});
const check = op({ name: 'rd_check', retryPolicy: new RetryPolicy({ maxRetries: 1 }) }, async (ctx, x: number) => {
  ledger.push(ctx.stepKey);
  if (!fixed && FAILING.has(ctx.mappingKeys[ctx.mappingKeys.length - 1] ?? '')) throw new Error(`bad data at ${ctx.stepKey}`);
  return x;
});
const double = op({ name: 'rd_double' }, async (ctx, x: number) => {
  ledger.push(ctx.stepKey);
  return x * 2;
});
const total = op({ name: 'rd_total' }, async (ctx, xs: number[]) => {
  ledger.push(ctx.stepKey);
  return xs.reduce((a, b) => a + b, 0);
});

function flatJob(name: string, mode: FanOutMode, extra: { shardSize?: number; redriveTimeout?: string } = {}) {
  const { redriveTimeout, ...map } = extra;
  return job({ name, onStepFailure: 'wait', ...(redriveTimeout ? { redriveTimeout } : {}) }, () => {
    const options = { mode, ...map };
    total(keys().map(check, options).map(double, options).collect());
  });
}

/** Polls the run's progress until `ready` holds. */
async function progressUntil(handle: WorkflowHandle, ready: (p: RunProgress) => boolean, what: string, ms = 120_000): Promise<RunProgress> {
  const deadline = Date.now() + ms;
  for (;;) {
    const progress = await handle.query<RunProgress>('progress').catch(() => undefined);
    if (progress && ready(progress)) return progress;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last progress: ${JSON.stringify(progress)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Polls `ready` (e.g. on the ledger) for up to two minutes. */
async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const ran = (prefix: string) => ledger.filter((k) => k.startsWith(prefix)).length;

const waitingFor = (n: number) => (p: RunProgress) => p.waiting?.steps === n;

/** The message the failed run ended with (its step failures, and why it gave up). */
async function failureMessage(handle: WorkflowHandle): Promise<string> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e as { cause?: { message?: string } },
  );
  return err?.cause?.message ?? '';
}

describe('redrive in place (onStepFailure: wait)', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  const cases: { name: string; mode: FanOutMode; shardSize?: number }[] = [
    { name: 'child mode', mode: 'child' },
    { name: 'activity mode', mode: 'activity' },
    { name: 'batch mode', mode: 'batch' },
    { name: 'sharded map (activity mode, shards of 50)', mode: 'activity', shardSize: 50 },
    { name: 'sharded map (child mode, shards of 60)', mode: 'child', shardSize: 60 },
  ];
  cases.forEach(({ name, mode, shardSize }, index) => {
    it(`${name}: 3 keys wait, siblings go on; the redrive runs exactly them, their downstream and the collect`, async () => {
      const definition = flatJob(`rd_flat_${index}`, mode, shardSize ? { shardSize } : {});
      await harness.withWorker([definition], async (taskQueue) => {
        fixed = false;
        ledger.length = 0;
        const run = await launchRun(harness.client, definition, { taskQueue });
        const waiting = await progressUntil(run.handle, waitingFor(3), '3 failed steps waiting');
        expect([...(waiting.waiting?.stepKeys ?? [])].sort()).toEqual(['rd_check[k100]', 'rd_check[k150]', 'rd_check[k7]']);
        expect((await run.handle.describe()).status.name).toBe('RUNNING');
        // The siblings go on: every other key's steps run, the collect waits.
        await until(() => ran('rd_double[') === 197, "the other 197 keys' steps");
        await new Promise((r) => setTimeout(r, 1_000));
        expect(ran('rd_double[')).toBe(197);
        expect(ledger).not.toContain('rd_total');
        expect((await run.handle.describe()).status.name).toBe('RUNNING');
        // Each failing key used its retry (2 attempts) before it parked.
        expect(ledger.filter((k) => k === 'rd_check[k7]')).toHaveLength(2);

        // A step that did not fail is refused, naming the steps that wait.
        const refused = await redrive(harness.client, run.workflowId, { stepKeys: ['rd_check[k8]'] }).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(RedriveError);
        expect((refused as RedriveError).refused).toBe(true);
        expect((refused as Error).message).toMatch(
          /"rd_check\[k8\]" is not a failed step waiting for a redrive; 3 waiting: .*rd_check\[k7\]/,
        );

        fixed = true;
        ledger.length = 0;
        const report = await redrive(harness.client, run.workflowId);
        expect([...report.stepKeys].sort()).toEqual(['rd_check[k100]', 'rd_check[k150]', 'rd_check[k7]']);
        const result = await awaitRun(run);
        expect(result.success).toBe(true);
        const expectedRan = [...FAILING].flatMap((k) => [`rd_check[${k}]`, `rd_double[${k}]`]).concat('rd_total');
        expect([...ledger].sort()).toEqual([...expectedRan].sort());
        // The collect holds all 200 values, in yield order.
        expect(await result.outputFor('rd_total')).toBe(2 * ((199 * 200) / 2));
        const values = (await result.outputFor('rd_double')) as Map<string, number>;
        expect([...values.keys()]).toEqual(Array.from({ length: 200 }, (_, i) => `k${i}`));
        expect(result.failures).toEqual([]);
      });
    }, 300_000);
  });

  it('2,000 keys with 1 % failing (activity mode, sharded by the budget): the redrive re-runs 20 keys and takes over the rest', async () => {
    const many = op({ name: 'rd_many', out: new DynamicOut<number>() }, async function* () {
      for (let i = 0; i < 2_000; i++) yield new DynamicOutput(i, `m${i}`);
    });
    const failingMany = new Set(Array.from({ length: 20 }, (_, i) => `m${i * 100 + 37}`));
    const flaky = op({ name: 'rd_many_check' }, async (ctx, x: number) => {
      ledger.push(ctx.stepKey);
      if (!fixed && failingMany.has(ctx.mappingKeys[0] ?? '')) throw new Error(`bad data at ${ctx.stepKey}`);
      return x;
    });
    const definition = job({ name: 'rd_many_job', onStepFailure: 'wait' }, () => {
      total(many().map(flaky, { mode: 'activity' }).map(double, { mode: 'activity' }).collect());
    });
    await harness.withWorker([definition], async (taskQueue) => {
      fixed = false;
      ledger.length = 0;
      const started = Date.now();
      const run = await launchRun(harness.client, definition, { taskQueue });
      await progressUntil(run.handle, waitingFor(20), `20 failed steps waiting (ledger: ${ledger.length} steps)`, 480_000);
      await until(() => ran('rd_double[') === 1_980, "the other 1,980 keys' steps");
      const firstPass = { steps: ledger.length, seconds: (Date.now() - started) / 1000 };
      fixed = true;
      ledger.length = 0;
      const redriveStarted = Date.now();
      await redrive(harness.client, run.workflowId);
      const result = await awaitRun(run);
      expect(result.success).toBe(true);
      const expectedRan = [...failingMany].flatMap((k) => [`rd_many_check[${k}]`, `rd_double[${k}]`]).concat('rd_total');
      expect([...ledger].sort()).toEqual([...expectedRan].sort());
      expect(await result.outputFor('rd_total')).toBe(2 * ((1_999 * 2_000) / 2));
      const steps = Object.keys(result.steps()).length;
      const reused = result.reusedStepKeys().length;
      console.log(
        `[redrive] 2,000 keys, 20 failing (1 %), activity mode: first pass ran ${firstPass.steps} step bodies in ${firstPass.seconds.toFixed(1)} s; ` +
          `the redrive ran ${ledger.length} (20 checks, 20 doubles, the collect) in ${((Date.now() - redriveStarted) / 1000).toFixed(1)} s; ` +
          `of the run's ${steps} step records, ${reused} were taken over from the first pass (marked reused)`,
      );
    });
  }, 600_000);

  it('redrive by step key: one key now, the others still wait, then the rest', async () => {
    const definition = flatJob('rd_partial', 'activity');
    await harness.withWorker([definition], async (taskQueue) => {
      fixed = false;
      ledger.length = 0;
      const run = await launchRun(harness.client, definition, { taskQueue });
      await progressUntil(run.handle, waitingFor(3), '3 failed steps waiting');
      await until(() => ran('rd_double[') === 197, "the other 197 keys' steps");
      fixed = true;
      ledger.length = 0;
      const first = await redrive(harness.client, run.workflowId, { stepKeys: ['rd_check[k7]'] });
      expect(first).toMatchObject({ action: 'redrive', stepKeys: ['rd_check[k7]'], stillWaiting: 2 });
      await progressUntil(run.handle, (p) => (p.nodes.rd_double?.succeeded ?? 0) === 198, 'k7 redriven');
      expect([...ledger].sort()).toEqual(['rd_check[k7]', 'rd_double[k7]']);
      expect((await run.handle.describe()).status.name).toBe('RUNNING');
      // `op` alone picks every waiting step of that op.
      const rest = await redrive(harness.client, run.workflowId, { stepKeys: ['rd_check'] });
      expect([...rest.stepKeys].sort()).toEqual(['rd_check[k100]', 'rd_check[k150]']);
      const result = await awaitRun(run);
      expect(result.success).toBe(true);
      expect(ledger.filter((k) => k.startsWith('rd_check['))).toHaveLength(3);
      expect(ledger.filter((k) => k === 'rd_total')).toHaveLength(1);
    });
  }, 300_000);

  it('give-up ends the run as it would have failed; a second request is refused', async () => {
    const definition = flatJob('rd_give_up', 'child');
    await harness.withWorker([definition], async (taskQueue) => {
      fixed = false;
      ledger.length = 0;
      const run = await launchRun(harness.client, definition, { taskQueue });
      await progressUntil(run.handle, waitingFor(3), '3 failed steps waiting');
      const report = await giveUp(harness.client, run.workflowId);
      expect(report.action).toBe('give-up');
      const result = await awaitRun(run);
      expect(result.success).toBe(false);
      expect(result.failures.map((f) => f.stepKey).sort()).toEqual(['rd_check[k100]', 'rd_check[k150]', 'rd_check[k7]']);
      expect(await failureMessage(run.handle)).toMatch(/they waited for a redrive: given up \(opgraph give-up\)/);
      expect(ledger).not.toContain('rd_total');
      const late = await redrive(harness.client, run.workflowId).catch((e: unknown) => e);
      expect(late).toBeInstanceOf(RedriveError);
      expect((late as Error).message).toMatch(/not running \(status FAILED\); re-execute it instead: opgraph reexecute/);
    });
  }, 300_000);

  it('redriveTimeout: a run whose failed steps wait longer gives up by itself', async () => {
    const definition = flatJob('rd_timeout', 'activity', { redriveTimeout: '3s' });
    await harness.withWorker([definition], async (taskQueue) => {
      fixed = false;
      const run = await launchRun(harness.client, definition, { taskQueue });
      const result = await awaitRun(run);
      expect(result.success).toBe(false);
      expect(result.failures).toHaveLength(3);
      expect(await failureMessage(run.handle)).toMatch(/no redrive within 3 s \(the job's redriveTimeout\)/);
    });
  }, 300_000);

  it('a static step and a nested map: only the failed steps and what they abandoned run again', async () => {
    const inner = op({ name: 'rd_inner', out: new DynamicOut<number>() }, async function* (ctx, x: number) {
      ledger.push(ctx.stepKey);
      for (let j = 0; j < 3; j++) yield new DynamicOutput(x * 10 + j, `j${j}`);
    });
    const FAILING_NESTED = new Set(['k3,j1', 'k15,j2']);
    const few = op({ name: 'rd_few', out: new DynamicOut<number>() }, async function* (ctx) {
      ledger.push(ctx.stepKey);
      for (let i = 0; i < 20; i++) yield new DynamicOutput(i, `k${i}`);
    });
    const nestedCheck = op({ name: 'rd_nested_check' }, async (ctx, x: number) => {
      ledger.push(ctx.stepKey);
      if (!fixed && FAILING_NESTED.has(ctx.mappingKeys.join(','))) throw new Error(`bad data at ${ctx.stepKey}`);
      return x;
    });
    let gateOpen = false;
    const gate = op({ name: 'rd_gate' }, async (ctx, n: number) => {
      ledger.push(ctx.stepKey);
      if (!gateOpen) throw new Error('the gate is closed');
      return n;
    });
    const nested = job({ name: 'rd_nested', onStepFailure: 'wait' }, () => {
      const perKey = few().map((x) => total.alias('rd_inner_total')(inner(x).map(nestedCheck).collect()));
      gate(total(perKey.collect()));
    });
    await harness.withWorker([nested], async (taskQueue) => {
      fixed = false;
      ledger.length = 0;
      const run = await launchRun(harness.client, nested, { taskQueue });
      const waiting = await progressUntil(run.handle, waitingFor(2), 'the 2 nested failures waiting');
      expect([...(waiting.waiting?.stepKeys ?? [])].sort()).toEqual(['rd_nested_check[k15,j2]', 'rd_nested_check[k3,j1]']);
      await until(() => ran('rd_inner_total[') === 18, 'the 18 other outer keys');
      fixed = true;
      ledger.length = 0;
      await redrive(harness.client, run.workflowId);
      // Now the static gate fails (it has no retries) and waits in the job workflow itself.
      const gateWaits = await progressUntil(run.handle, (p) => p.waiting?.stepKeys[0] === 'rd_gate', 'the static step waiting');
      expect(gateWaits.nodes.rd_gate).toMatchObject({ waiting: 1, running: 0 });
      expect([...ledger].sort()).toEqual(
        ['rd_nested_check[k15,j2]', 'rd_nested_check[k3,j1]', 'rd_inner_total[k15]', 'rd_inner_total[k3]', 'rd_total', 'rd_gate'].sort(),
      );
      gateOpen = true;
      ledger.length = 0;
      await redrive(harness.client, run.workflowId, { stepKeys: ['rd_gate'] });
      const result = await awaitRun(run);
      expect(result.success).toBe(true);
      expect(ledger).toEqual(['rd_gate']);
      const expected = Array.from({ length: 60 }, (_, n) => Math.floor(n / 3) * 10 + (n % 3)).reduce((a, b) => a + b, 0);
      expect(await result.outputFor('rd_gate')).toBe(expected);
      // Records taken over from the first runs of the redriven keys show as reused; the rest ran in this run.
      expect(result.reusedStepKeys().length).toBeGreaterThan(0);
    });
  }, 300_000);
});
