/**
 * Per-step logs in every fan-out mode: each key's ctx.log lines, per attempt, are read back by
 * run id and step key (JobResult.logs), whichever workflow or activity ran the step — a child
 * workflow per key, an activity per key, or many keys in one batch activity — and a nested map.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op, RetryPolicy } from '../../src/dsl/index.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { TemporalHarness } from './harness.ts';

const fan = op({ name: 'sl_fan', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 4; i++) yield new DynamicOutput(i, String(i));
});
const inner = op({ name: 'sl_inner', out: new DynamicOut<number>() }, async function* (ctx, x: number) {
  ctx.log.debug(`inner of ${x}`);
  for (let i = 0; i < 2; i++) yield new DynamicOutput(x * 10 + i, String(i));
});
const work = op({ name: 'sl_work', retryPolicy: new RetryPolicy({ maxRetries: 1 }) }, async (ctx, x: number) => {
  ctx.log.info(`work ${x}`, { key: ctx.getMappingKey() });
  if (x === 2 && ctx.attempt === 1) throw new Error('first attempt of 2 fails');
  return x;
});
const sum = op({ name: 'sl_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));

function logsJob(mode: FanOutMode) {
  const batch = mode === 'batch' ? { batchSize: 2 } : {};
  return job({ name: `step_logs_${mode}` }, () => {
    sum(
      fan()
        .map(work, { mode, ...batch })
        .collect(),
    );
    fan
      .alias('sl_fan2')()
      .map((x) => sum.alias('sl_inner_sum')(inner(x).map(work.alias('sl_inner_work')).collect()), { mode, ...batch });
  });
}

describe('ctx.log lines per step key, in every fan-out mode', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => {
    await harness?.close();
  });

  for (const mode of ['child', 'activity', 'batch'] as const) {
    it(`${mode} mode`, async () => {
      const result = await harness.run(logsJob(mode));
      expect(result.success).toBe(true);
      for (const key of ['0', '1', '3']) {
        const lines = await result.logs(`sl_work[${key}]`);
        expect(lines.map((l) => [l.stepKey, l.attempt, l.level, l.message, l.extra])).toEqual([
          [`sl_work[${key}]`, 1, 'info', `work ${key}`, `{"key":"${key}"}`],
        ]);
      }
      expect((await result.logs('sl_work[2]')).map((l) => [l.attempt, l.message])).toEqual([
        [1, 'work 2'],
        [2, 'work 2'],
      ]);
      expect((await result.logs('sl_inner[3]')).map((l) => [l.level, l.message])).toEqual([['debug', 'inner of 3']]);
      expect((await result.logs('sl_inner_work[3,1]')).map((l) => l.message)).toEqual(['work 31']);
      expect(await result.logs('sl_sum')).toEqual([]);
    }, 120_000);
  }
});
