/**
 * `opgraph map pause|resume|resize` end to end: the real binary against the suite's dev server, a
 * worker for a paced job in this test process (so its ops can count what runs), and `status`
 * showing the control.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { awaitRun, launchRun } from '../../src/client/run.ts';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import type { RunProgress } from '../../src/workflows/progress.ts';
import { TemporalHarness } from '../integration/harness.ts';
import { captureIO } from './capture.ts';
import { runOpgraph } from './spawn.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let running = 0;
const started: string[] = [];
/** Keys in flight finish only while `go` (the real binary takes seconds to start: the test holds them meanwhile). */
let go = true;
const pacedKeys = op({ name: 'paced_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 24; i++) yield new DynamicOutput(i, `k${i}`);
});
const pacedWork = op({ name: 'paced_work' }, async (ctx, x: number) => {
  started.push(ctx.getMappingKey() ?? '');
  running++;
  await sleep(1_000);
  while (!go) await sleep(50);
  running--;
  return x;
});
const pacedSum = op({ name: 'paced_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const paced = job({ name: 'paced' }, () => {
  pacedSum(pacedKeys().map(pacedWork, { mode: 'activity', maxConcurrency: 3 }).collect());
});

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('opgraph map pause / resume / resize', () => {
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

  it('pauses, resizes and resumes a running map; refuses what it cannot do with exit code 2', { timeout: 300_000 }, async () => {
    await harness.withWorker([paced], async (taskQueue) => {
      const run = await launchRun(harness.client, paced, { taskQueue });
      const id = run.workflowId;
      await waitFor('three keys running', () => running === 3);

      go = false;
      const paused = await runOpgraph(['map', 'pause', id, 'paced_keys'], env);
      go = true;
      expect(paused.code, paused.stderr).toBe(0);
      expect(paused.stdout).toMatch(
        new RegExp(
          `^Paused map paced_keys of ${id}: no new key starts; keys in flight finish \\(3 in flight, \\d+ waiting\\)\\.\\nResume with: opgraph map resume ${id} paced_keys\\n$`,
        ),
      );
      await waitFor('keys in flight to finish', () => running === 0);
      const before = started.length;
      await sleep(3_000);
      expect(started.length).toBe(before);

      const status = await cli('status', id);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(
        new RegExp(
          `▸ map over paced_keys  \\[[█░]+\\] ${before}/24 keys done, 0 running, 0 failed · paused \\(0 in flight, ${24 - before} waiting\\)`,
        ),
      );

      const unknown = await runOpgraph(['map', 'pause', id, 'nope'], env);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toBe(`opgraph: cannot pause map "nope" of ${id}: job "paced" has no map "nope"; its maps: paced_keys\n`);

      for (const bad of ['0', '5000', 'ten']) {
        const refused = await cli('map', 'resize', id, 'paced_keys', '--max-concurrency', bad);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toBe(
          `opgraph: --max-concurrency "${bad}": maxConcurrency must be a whole number from 1 to 1000 (a map's window is a share of its workflow's budget); got ${bad === 'ten' ? 'null' : bad}\n`,
        );
      }

      const resized = await runOpgraph(['map', 'resize', id, 'paced_keys', '--max-concurrency', '6'], env);
      expect(resized.code, resized.stderr).toBe(0);
      expect(resized.stdout).toBe(
        `Resized map paced_keys of ${id}: window 3 → 6 (0 in flight, ${24 - before} waiting).\nIt is paused: resume with opgraph map resume ${id} paced_keys\n`,
      );
      expect(started.length).toBe(before);

      go = false;
      const resumed = await runOpgraph(['map', 'resume', id, 'paced_keys'], env);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(new RegExp(`^Resumed map paced_keys of ${id}: keys start again, up to 6 at once`));
      await waitFor('the larger window', () => running === 6);
      const progress = await run.handle.query<RunProgress>('progress');
      expect(progress.controls).toEqual({ 'paced_keys:result': { paused: false, maxConcurrency: 6, planned: 3 } });
      const during = await cli('status', id);
      expect(during.stdout).toContain('· window 3 → 6');

      const again = await cli('map', 'resume', id, 'paced_keys');
      expect(again.stdout).toBe(`Map paced_keys of ${id} was not paused; it runs up to 6 keys at once.\n`);
      go = true;

      const result = await awaitRun(run);
      expect(result.success).toBe(true);
      expect(await result.outputFor('paced_sum')).toBe((23 * 24) / 2);

      const closed = await cli('map', 'pause', id, 'paced_keys');
      expect(closed.code).toBe(1);
      expect(closed.stderr).toBe(`opgraph: cannot pause map "paced_keys": run ${id} is not running (status COMPLETED)\n`);
    });
  });

  it('needs TEMPORAL_ADDRESS and --max-concurrency', async () => {
    const { io, stderr } = captureIO({});
    expect(await runCli(['map', 'pause', 'wf', 'm'], io)).toBe(2);
    expect(stderr()).toContain('`opgraph map pause` needs a running Temporal server: set TEMPORAL_ADDRESS=host:port');
    const missing = captureIO(env);
    expect(await runCli(['map', 'resize', 'wf', 'm'], missing.io)).toBe(2);
    expect(missing.stderr()).toContain("error: required option '--max-concurrency <n>' not specified");
  });
});
