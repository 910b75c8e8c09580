/**
 * `opgraph redrive` / `opgraph give-up` end to end (the CLI's code in this process, against the
 * suite's dev server, with a worker whose ops count what runs): `status` shows the waiting steps, a
 * step key that is not waiting is refused with exit code 2 and the list of those that are, a
 * redrive finishes the run, and give-up ends another one failed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { awaitRun, launchRun } from '../../src/client/run.ts';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import type { RunProgress } from '../../src/workflows/progress.ts';
import { TemporalHarness } from '../integration/harness.ts';
import { captureIO } from './capture.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let fixed = false;
const ran: string[] = [];
const keys = op({ name: 'cli_rd_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 10; i++) yield new DynamicOutput(i, `k${i}`);
});
const work = op({ name: 'cli_rd_work' }, async (ctx, x: number) => {
  ran.push(ctx.stepKey);
  if (!fixed && (x === 2 || x === 5)) throw new Error(`bad data at ${ctx.stepKey}`);
  return x;
});
const sum = op({ name: 'cli_rd_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const waiting = job({ name: 'cli_redrive', onStepFailure: 'wait' }, () => {
  sum(keys().map(work, { mode: 'activity' }).collect());
});

describe('opgraph redrive / give-up', () => {
  let harness: TemporalHarness;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
  });
  afterAll(async () => harness?.close());

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { io, stdout, stderr } = captureIO(env);
    const code = await runCli(args, io);
    return { code, stdout: stdout(), stderr: stderr() };
  }

  async function untilWaiting(workflowId: string, n: number): Promise<void> {
    const handle = harness.client.workflow.getHandle(workflowId);
    for (const until = Date.now() + 60_000; ; await sleep(200)) {
      const progress = await handle.query<RunProgress>('progress').catch(() => undefined);
      if (progress?.waiting?.steps === n) return;
      if (Date.now() > until) throw new Error(`timed out waiting for ${n} failed steps to wait: ${JSON.stringify(progress)}`);
    }
  }

  it('status shows the waiting steps; a wrong key is refused (exit 2); redrive finishes the run', { timeout: 300_000 }, async () => {
    await harness.withWorker([waiting], async (taskQueue) => {
      fixed = false;
      const run = await launchRun(harness.client, waiting, { taskQueue });
      await untilWaiting(run.workflowId, 2);

      const status = await cli('status', run.workflowId);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/Status: +RUNNING/);
      expect(status.stdout).toMatch(
        /Waiting: +waiting: 2 failed steps \((cli_rd_work\[k2\], cli_rd_work\[k5\]|cli_rd_work\[k5\], cli_rd_work\[k2\])\)/,
      );
      expect(status.stdout).toMatch(/cli_rd_work\[\*\] +8 succeeded, 2 failed/);
      expect(status.stdout).toContain(`opgraph redrive ${run.workflowId}`);

      const wrong = await cli('redrive', run.workflowId, '--step-keys', 'cli_rd_work[k3]');
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(
        /"cli_rd_work\[k3\]" is not a failed step waiting for a redrive; 2 waiting: cli_rd_work\[k2\], cli_rd_work\[k5\]/,
      );

      fixed = true;
      ran.length = 0;
      const redriven = await cli('redrive', run.workflowId, '--step-keys', 'cli_rd_work[k2]', 'cli_rd_work[k5]');
      expect(redriven.code).toBe(0);
      expect(redriven.stdout).toMatch(/Redriving 2 failed step\(s\) of .* cli_rd_work\[k\d\], cli_rd_work\[k\d\]/);
      expect(redriven.stdout).toContain('No failed step waits any more.');
      const result = await awaitRun(run);
      expect(result.success).toBe(true);
      expect(await result.outputFor('cli_rd_sum')).toBe(45);
      expect([...ran].sort()).toEqual(['cli_rd_work[k2]', 'cli_rd_work[k5]']);

      // The run has ended: a redrive is refused with what to do instead (exit 1: not a request problem).
      const late = await cli('redrive', run.workflowId);
      expect(late.code).toBe(1);
      expect(late.stderr).toMatch(/not running \(status COMPLETED\)/);
    });
  });

  it('give-up ends the run failed, listing its failed steps', { timeout: 300_000 }, async () => {
    await harness.withWorker([waiting], async (taskQueue) => {
      fixed = false;
      const run = await launchRun(harness.client, waiting, { taskQueue });
      await untilWaiting(run.workflowId, 2);
      const gaveUp = await cli('give-up', run.workflowId);
      expect(gaveUp.code).toBe(0);
      expect(gaveUp.stdout).toMatch(/Gave up .*: its 2 waiting failed step\(s\) end failed/);
      const result = await awaitRun(run);
      expect(result.success).toBe(false);
      expect(result.failures.map((f) => f.stepKey).sort()).toEqual(['cli_rd_work[k2]', 'cli_rd_work[k5]']);
      const status = await cli('status', run.workflowId);
      expect(status.code).toBe(1);
      expect(status.stdout).not.toContain('Waiting:');
    });
  });
});
