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

/** 50 keys hitting one bug, and one key with a bug of its own. */
const manyKeys = op({ name: 'error_class_many_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 51; i++) yield new DynamicOutput(i, String(i));
});
class OpDefinitionError extends Error {}
const sameBug = op({ name: 'error_class_same_bug' }, async (_ctx, i: number) => {
  if (i === 50) throw new TypeError(`cannot read ${i}`);
  throw new OpDefinitionError('table "events" has no column "ts"');
});
const manyJobs = Object.fromEntries(
  (['child', 'batch'] as const).map((mode) => [
    mode,
    suite.define(`error_class_many_${mode}`, () => {
      manyKeys().map(sameBug, mode === 'batch' ? { mode, batchSize: 20 } : { mode });
    }),
  ]),
) as Record<'child' | 'batch', ReturnType<typeof suite.define>>;

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

  it.each(['child', 'batch'] as const)(
    '%s mode: 50 identical failures print once with their keys, pointing at the line of user code that threw',
    async (mode) => {
      const result = await run(manyJobs[mode]);
      expect(result.failures).toHaveLength(51);
      const bug = result.failures.find((f) => f.stepKey === 'error_class_same_bug[0]');
      expect(bug?.message).toBe(
        `[error_class_many_${mode} error_class_same_bug[0]] op "error_class_same_bug" raised Error (at test/integration/errorClass.test.ts:49:9): table "events" has no column "ts"`,
      );
      const lines = await resultLines(result);
      const at = lines.indexOf('Failed steps (51):');
      expect(lines.slice(at, at + 4)).toEqual([
        'Failed steps (51):',
        '  50 steps: OpUserError (OpDefinitionError): op "error_class_same_bug" raised Error (at test/integration/errorClass.test.ts:49:9): table "events" has no column "ts"',
        '    error_class_same_bug[0], error_class_same_bug[1], error_class_same_bug[2], error_class_same_bug[3], …, error_class_same_bug[49]',
        `  error_class_same_bug[50]: OpUserError (TypeError): [error_class_many_${mode} error_class_same_bug[50]] op "error_class_same_bug" raised TypeError (at test/integration/errorClass.test.ts:48:23): cannot read 50`,
      ]);
      expect(lines.join('\n').match(/has no column/g)).toHaveLength(1);
    },
  );
});
