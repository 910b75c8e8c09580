import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressItems, ttyLines } from '../../src/cli/progress.ts';
import { awaitRun, cancelRun, launchRun } from '../../src/client/run.ts';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import type { RunProgress } from '../../src/workflows/progress.ts';
import { TemporalHarness } from './harness.ts';

// The worker runs in this process, so ops can report to the test directly.
const started = new Set<string>();
const cleanedUp = new Set<string>();

const keys = op({ name: 'cancel_keys', out: new DynamicOut<string>() }, async function* () {
  for (const k of ['a', 'b', 'c']) yield new DynamicOutput(k, k);
});

const waitForever = op({ name: 'wait_forever', timeouts: { heartbeat: '1s' } }, async (ctx, key: string) => {
  started.add(ctx.stepKey);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 120_000);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      cleanedUp.add(ctx.stepKey);
      resolve();
    });
  });
  return key;
});

const gather = op({ name: 'cancel_gather' }, async (_ctx, xs: string[]) => xs.join(''));

const cancellable = job({ name: 'cancellable' }, () => {
  gather(keys().map(waitForever).collect());
});

/** The same in activity mode: the keys' steps are activities of the job workflow, counted as running there. */
const cancellableInline = job({ name: 'cancellable_inline' }, () => {
  gather(keys().map(waitForever, { mode: 'activity' }).collect());
});

describe('cancelling a run', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('cancels children and running ops (ctx.signal fires) and ends CANCELLED', async () => {
    const { result, progress } = await harness.withWorker([cancellable], async (taskQueue) => {
      const run = await launchRun(harness.client, cancellable, { taskQueue });
      while (started.size < 3) await new Promise((r) => setTimeout(r, 50));
      await cancelRun(harness.client, run.workflowId);
      const ended = await awaitRun(run);
      return { result: ended, progress: await run.handle.query<RunProgress>('progress') };
    });
    expect(result.status).toBe('CANCELLED');
    expect(result.success).toBe(false);
    expect([...cleanedUp].sort()).toEqual(['wait_forever[a]', 'wait_forever[b]', 'wait_forever[c]']);
    const children = await harness.client.workflow.getHandle(`${result.workflowId}/cancel_keys[b]`).describe();
    expect(children.status.name).toBe('CANCELLED');
    const root = await harness.client.workflow.getHandle(result.workflowId).describe();
    expect(root.status.name).toBe('CANCELLED');
    // The closed run's last snapshot still counts its keys as running; shown for a CANCELLED run, they are cancelled.
    expect(progress.dimensions['cancel_keys:result']).toMatchObject({ total: 3, running: 3, done: 0 });
    expect(ttyLines(progressItems(cancellable.plan, progress, result.status))).toEqual([
      '✔ cancel_keys           succeeded',
      '⊗ map over cancel_keys  [░░░░░░░░░░░░░░░░░░░░░░░░] 0/3 keys done, 3 cancelled, 0 failed',
      '    wait_forever[*]     0 succeeded',
      '○ cancel_gather         not started',
    ]);
  });

  it('activity mode: the steps that were running read cancelled, the gather not started', async () => {
    started.clear();
    const { result, progress } = await harness.withWorker([cancellableInline], async (taskQueue) => {
      const run = await launchRun(harness.client, cancellableInline, { taskQueue });
      while (started.size < 3) await new Promise((r) => setTimeout(r, 50));
      await cancelRun(harness.client, run.workflowId);
      const ended = await awaitRun(run);
      return { result: ended, progress: await run.handle.query<RunProgress>('progress') };
    });
    expect(result.status).toBe('CANCELLED');
    expect(progress.nodes.wait_forever).toMatchObject({ running: 3, succeeded: 0 });
    expect(ttyLines(progressItems(cancellableInline.plan, progress, result.status))).toEqual([
      '✔ cancel_keys           succeeded',
      '⊗ map over cancel_keys  [░░░░░░░░░░░░░░░░░░░░░░░░] 0/3 keys done, 3 cancelled, 0 failed',
      '    wait_forever[*]     0 succeeded, 3 cancelled',
      '○ cancel_gather         not started',
    ]);
  });
});
