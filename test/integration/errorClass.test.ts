/**
 * A failed step keeps the class of what the op threw (`errorClass`) beside the stable failure type
 * (`OpUserError`), on the real server, wherever the step ran: an activity of the job workflow, a
 * child workflow per key, a batch activity; and the CLI summary shows it.
 */
import { describe, expect, it } from 'vitest';
import { awaitRun, launchRun } from '../../src/client/run.ts';
import { resultLines } from '../../src/cli/summary.ts';
import { DynamicOut, DynamicOutput, op, RetryPolicy } from '../../src/index.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { fileWideWorker } from './harness.ts';

class QuotaExceeded extends Error {}

const suite = fileWideWorker();

const keys = op({ name: 'error_class_keys', out: new DynamicOut<string>() }, async function* () {
  for (const key of ['range', 'quota', 'fine']) yield new DynamicOutput(key, key);
});
/** Retried once, so the class also survives the interpreter's user retries. */
const raise = op({ name: 'error_class_raise', retryPolicy: new RetryPolicy({ maxRetries: 1 }) }, async (_ctx, key: string) => {
  if (key === 'range') throw new RangeError('x');
  if (key === 'quota') throw new QuotaExceeded('over quota');
  return key;
});
const staticRange = op({ name: 'error_class_static' }, async () => {
  throw new RangeError('x');
});

const jobs = Object.fromEntries(
  (['child', 'activity', 'batch'] as const).map((mode) => [
    mode,
    suite.define(`error_class_${mode}`, () => {
      keys().map(raise, mode === 'batch' ? { mode, batchSize: 3 } : { mode });
    }),
  ]),
) as Record<FanOutMode, ReturnType<typeof suite.define>>;
const staticJob = suite.define('error_class_top', () => {
  staticRange();
});

async function run(definition: ReturnType<typeof suite.define>) {
  return awaitRun(await launchRun(suite.harness.client, definition, { taskQueue: suite.taskQueue }));
}

describe('failures keep the op’s exception class beside the failure type', () => {
  it.each(['child', 'activity', 'batch'] as const)('%s mode: RangeError and a user-defined class', async (mode) => {
    const result = await run(jobs[mode]);
    expect(result.success).toBe(false);
    const failures = [...result.failures].sort((a, b) => a.stepKey.localeCompare(b.stepKey));
    expect(failures.map(({ stepKey, type, errorClass }) => ({ stepKey, type, errorClass }))).toEqual([
      { stepKey: 'error_class_raise[quota]', type: 'OpUserError', errorClass: 'QuotaExceeded' },
      { stepKey: 'error_class_raise[range]', type: 'OpUserError', errorClass: 'RangeError' },
    ]);
    expect(result.steps()['error_class_raise[range]']?.error).toMatchObject({ type: 'OpUserError', errorClass: 'RangeError' });
    expect(result.steps()['error_class_raise[range]']?.attempts).toBe(2);
    const lines = (await resultLines(result)).join('\n');
    expect(lines).toContain('error_class_raise[range]: OpUserError (RangeError): ');
    expect(lines).toContain('error_class_raise[quota]: OpUserError (QuotaExceeded): ');
  });

  it('a step of the job workflow itself', async () => {
    const result = await run(staticJob);
    expect(result.failures).toEqual([
      expect.objectContaining({ stepKey: 'error_class_static', type: 'OpUserError', errorClass: 'RangeError' }),
    ]);
  });
});
