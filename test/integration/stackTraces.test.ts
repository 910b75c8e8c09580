/**
 * Workflow sandboxes without stack traces (src/worker/stackTraces.ts): the SDK's per-promise stack
 * capture was most of a big map's workflow CPU. By default a running workflow's stack-trace query (the
 * Web UI's "Stack Trace" tab) is empty; OPGRAPH_WORKFLOW_STACK_TRACES=1 brings it back. Ops, which run
 * in the worker's own realm, keep their stack traces either way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, op } from '../../src/index.ts';
import { awaitRun, launchRun } from '../../src/client/run.ts';
import { WORKFLOW_STACK_TRACES_ENV } from '../../src/worker/stackTraces.ts';
import { TemporalHarness } from './harness.ts';

let opStack = '';
const waits = op({ name: 'stack_waits' }, async () => {
  opStack = new Error('probe').stack ?? '';
  await sleep(1_500);
  return 1;
});
const stackJob = job({ name: 'stack_traces' }, () => {
  waits();
});

describe('workflow stack traces', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  /** The stack-trace query of a run while its op runs, and whether the run then succeeded. */
  async function queriedStack(): Promise<{ stack: string; success: boolean }> {
    return harness.withWorker([stackJob], async (taskQueue) => {
      const launched = await launchRun(harness.client, stackJob, { taskQueue });
      await sleep(700);
      const stack = await launched.handle.query<string>('__stack_trace');
      return { stack, success: (await awaitRun(launched)).success };
    });
  }

  it('by default a running workflow shows no stack (and runs as before); ops keep theirs', async () => {
    const { stack, success } = await queriedStack();
    expect(success).toBe(true);
    // Each pending promise's entry is its error line alone ('Error'): no frames.
    expect(stack).not.toMatch(/\bat /);
    expect(opStack).toMatch(/stackTraces\.test\.ts:\d+:\d+/);
    // The worker's realm (where ops run) keeps its limit once the sandboxes exist.
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
  });

  it(`with ${WORKFLOW_STACK_TRACES_ENV}=1 the query shows where the workflow waits`, async () => {
    process.env[WORKFLOW_STACK_TRACES_ENV] = '1';
    try {
      const { stack, success } = await queriedStack();
      expect(success).toBe(true);
      expect(stack).toMatch(/\bat /);
    } finally {
      delete process.env[WORKFLOW_STACK_TRACES_ENV];
    }
  });
});
