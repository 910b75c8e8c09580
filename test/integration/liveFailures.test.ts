/**
 * Live progress on the real server (issue 15 item 3): while a key waits out its retry backoff the
 * `progress` query names it with its attempt and last error; a key that failed for good is named
 * before the run ends; the step that collects from the failed map shows abandoned at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { awaitRun, launchRun } from '../../src/client/run.ts';
import { runCli } from '../../src/cli/commands.ts';
import { plainLine, progressItems } from '../../src/cli/progress.ts';
import { DynamicOut, DynamicOutput, job, op, RetryPolicy } from '../../src/dsl/index.ts';
import type { RunProgress } from '../../src/engine/progress.ts';
import { captureIO } from '../cli/capture.ts';
import { TemporalHarness } from './harness.ts';

let releaseLast = false;

const keys = op({ name: 'lf_keys', out: new DynamicOut<string>() }, async function* () {
  for (const k of ['k0', 'k1', 'k2', 'k3']) yield new DynamicOutput(k, k);
});
class ValueError extends Error {
  override name = 'ValueError';
}
const work = op({ name: 'lf_work', retryPolicy: new RetryPolicy({ maxRetries: 1, delay: 4 }) }, async (ctx, k: string) => {
  if (k === 'k1' && ctx.attempt === 1) throw new ValueError('k1 fails its first attempt');
  if (k === 'k2') throw new ValueError('k2 always fails');
  // k3 holds the run open until the test has seen what it waits for.
  while (k === 'k3' && !releaseLast && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 100));
  return k;
});
const total = op({ name: 'lf_total' }, async (_ctx, xs: string[]) => xs.length);
const liveFailures = job({ name: 'live_failures' }, () => {
  total(keys().map(work, { mode: 'activity' }).collect());
});

// The same in child mode (the default): k1 retries inside its own child workflow.
let releaseChild = false;
const childWork = op({ name: 'lf_c_work', retryPolicy: new RetryPolicy({ maxRetries: 1, delay: 4 }) }, async (ctx, k: string) => {
  if (k === 'k1' && ctx.attempt === 1) throw new ValueError('k1 fails its first attempt');
  while (k === 'k3' && !releaseChild && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 100));
  return k;
});
const childRetries = job({ name: 'live_failures_child' }, () => {
  total.alias('lf_c_total')(keys.alias('lf_c_keys')().map(childWork).collect());
});

async function until(query: () => Promise<RunProgress>, test: (p: RunProgress) => boolean, what: string): Promise<RunProgress> {
  const deadline = Date.now() + 60_000;
  let last: RunProgress | undefined;
  while (Date.now() < deadline) {
    last = await query().catch(() => undefined);
    if (last && test(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`progress never showed ${what}; last: ${JSON.stringify(last)}`);
}

describe('progress names retrying and failed keys, and doomed steps, while the run runs', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('retrying k1 (attempt 2 of 2), failed k2, abandoned lf_total, all before the run ends', async () => {
    const result = await harness.withWorker([liveFailures], async (taskQueue) => {
      const run = await launchRun(harness.client, liveFailures, { taskQueue });
      const query = () => run.handle.query<RunProgress>('progress');
      const retrying = await until(
        query,
        (p) => p.nodes.lf_work?.retryingKeys?.some((r) => r.stepKey === 'lf_work[k1]') === true,
        'lf_work[k1] retrying',
      );
      expect(retrying.nodes.lf_work?.retryingKeys).toContainEqual({
        stepKey: 'lf_work[k1]',
        attempt: 2,
        of: 2,
        error: 'ValueError (at test/integration/liveFailures.test.ts:25:46): k1 fails its first attempt',
      });
      const lines = progressItems(liveFailures.plan, retrying).map(plainLine).join('\n');
      expect(lines).toMatch(
        /lf_work\[\*\]: .*retrying \(.*lf_work\[k1\]: attempt 2 of 2, last error: ValueError \(at test\/integration\/liveFailures.test.ts:25:46\): k1 fails its first attempt/,
      );
      expect(lines).toMatch(/map over lf_keys .* keys done, \d+ running, [12] retrying, 0 failed/);

      const failed = await until(query, (p) => (p.nodes.lf_work?.failed ?? 0) > 0 && (p.doomed?.length ?? 0) > 0, 'lf_work[k2] failed');
      expect(failed.nodes.lf_work?.failedKeys).toEqual([
        { stepKey: 'lf_work[k2]', error: 'ValueError (at test/integration/liveFailures.test.ts:26:25): k2 always fails' },
      ]);
      expect(failed.doomed).toEqual(['lf_total']);
      expect(failed.nodes.lf_total?.abandoned).toBe(0); // its record comes only when the map ends
      expect(progressItems(liveFailures.plan, failed).map(plainLine)).toContain('lf_total: abandoned');
      expect((await run.handle.describe()).status.name).toBe('RUNNING');
      releaseLast = true;
      return awaitRun(run);
    });
    expect(result.success).toBe(false);
    expect(result.steps()['lf_total']?.status).toBe('ABANDONED');
    expect(result.steps()['lf_work[k1]']).toMatchObject({ status: 'SUCCESS', attempts: 2 });
  }, 120_000);

  it('child mode: `opgraph status` names k1 retrying inside its child, from its step journal (the bar of opgraph run reads it the same way)', async () => {
    const result = await harness.withWorker([childRetries], async (taskQueue) => {
      const run = await launchRun(harness.client, childRetries, { taskQueue });
      const deadline = Date.now() + 60_000;
      let stdout = '';
      while (Date.now() < deadline && !stdout.includes('lf_c_work[k1]: attempt 2 of 2')) {
        const io = captureIO({ TEMPORAL_ADDRESS: inject('temporalAddress') });
        await runCli(['status', run.workflowId], io.io);
        stdout = io.stdout();
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(stdout).toMatch(
        /lf_c_work\[\*\].*1 retrying \(lf_c_work\[k1\]: attempt 2 of 2, last error: ValueError \(at test\/integration\/liveFailures.test.ts:\d+:\d+\): k1 fails its first attempt\)/,
      );
      // The job's own query cannot see inside the child: the name came from the journal.
      const progress = await run.handle.query<RunProgress>('progress');
      expect(progress.nodes.lf_c_work?.retryingKeys ?? []).toEqual([]);
      releaseChild = true;
      return awaitRun(run);
    });
    expect(result.success).toBe(true);
    expect(result.steps()['lf_c_work[k1]']).toMatchObject({ status: 'SUCCESS', attempts: 2 });
  }, 120_000);
});
