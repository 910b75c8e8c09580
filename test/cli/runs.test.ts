/**
 * Ids and the runs list against the suite's dev server: every command taking a workflow id takes the
 * run id opgraph prints; `opgraph runs` lists runs through visibility; `status` of a finished run reads
 * its result with no worker running and exits 1 when the run failed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { durationText, runsTable } from '../../src/cli/runs.ts';
import { TemporalHarness } from '../integration/harness.ts';
import { captureIO } from './capture.ts';
import { failOne, greet, slow } from './fixtures/defs.ts';

const FIXTURES = 'test/cli/fixtures/defs.ts';

describe('run ids, opgraph runs, status without a worker', () => {
  let harness: TemporalHarness;
  let env: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'opgraph-cli-runs-'));
  const greetConfig = join(dir, 'greet.json');
  writeFileSync(greetConfig, JSON.stringify({ ops: { greeting: { config: { greeting: 'Hi', times: 1 } } } }));
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await harness?.close();
  });

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { io, stdout, stderr } = captureIO(env);
    const code = await runCli(args, io);
    return { code, stdout: stdout(), stderr: stderr() };
  }

  /** Visibility lags the start of a run a little: list until `predicate` holds. */
  async function runsUntil(
    args: string[],
    predicate: (stdout: string) => boolean,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const listed = await cli('runs', ...args);
      if (predicate(listed.stdout) || Date.now() > deadline) return listed;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('resolves run ids, lists runs, and reads a finished run with no worker', async () => {
    const { failedId, greetId } = await harness.withWorker([failOne, greet, slow], async (taskQueue) => {
      const failed = await cli('launch', 'fail_one', '-m', FIXTURES, '-q', taskQueue);
      const greeted = await cli('launch', 'greet', '-m', FIXTURES, '-q', taskQueue, '-c', greetConfig);
      expect(failed.code, failed.stderr).toBe(0);
      expect(greeted.code, greeted.stderr).toBe(0);
      const ids = { failedId: failed.stdout.trim(), greetId: greeted.stdout.trim() };
      await harness.client.workflow
        .getHandle(ids.failedId)
        .result()
        .catch(() => undefined);
      await harness.client.workflow.getHandle(ids.greetId).result();
      return ids;
    });
    // The worker is gone now: everything below reads what the server keeps.
    const failedRunId = failedId.slice('fail_one-'.length);
    const greetRunId = greetId.slice('greet-'.length);

    const started = Date.now();
    const status = await cli('status', failedRunId);
    const took = Date.now() - started;
    expect(status.code, status.stderr).toBe(1);
    expect(took).toBeLessThan(4_000);
    expect(status.stdout).toContain(`Workflow:   ${failedId}\nJob:        fail_one (run ${failedRunId})\nStatus:     FAILED\n`);
    expect(status.stdout).not.toContain('unavailable');
    expect(status.stdout).toContain(
      [
        'Progress:',
        '  ✔ cli_keys           succeeded',
        '  ✔ map over cli_keys  [████████████████████████] 3/3 keys done, 0 running, 1 failed',
        '      maybe_fail[*]    2 succeeded, 1 failed',
        '  ⊘ cli_gather         abandoned',
        'Result:',
        `  Run ${failedRunId} of job fail_one FAILED.`,
      ].join('\n'),
    );

    const greetStatus = await cli('status', greetRunId);
    expect(greetStatus.code, greetStatus.stderr).toBe(0);
    expect(greetStatus.stdout).toContain(`Workflow:   ${greetId}\n`);
    expect(greetStatus.stdout).toContain('Status:     COMPLETED\n');
    expect(greetStatus.stdout).toContain('  ✔ greeting  succeeded\n');

    // cancel and reexecute resolve the run id too (the run is over: each says so, naming the workflow id).
    const cancel = await cli('cancel', failedRunId);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toBe(`opgraph: workflow ${failedId} is not running (status FAILED); nothing to cancel\n`);
    const reexecute = await cli('reexecute', greetRunId, '--step-keys', 'greeting', '--no-wait');
    expect(reexecute.code, reexecute.stderr).toBe(0);
    expect(reexecute.stderr).toContain(`Re-executing ${greetId}:`);
    await harness.client.workflow.getHandle(reexecute.stdout.trim()).terminate('test: no worker for it');
    const pause = await cli('map', 'pause', 'no-such-run-id', 'cli_keys');
    expect(pause.code).toBe(1);
    expect(pause.stderr).toContain('no workflow "no-such-run-id"');

    const listed = await runsUntil(['--job', 'fail_one'], (out) => out.includes(failedRunId));
    expect(listed.code, listed.stderr).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^JOB +RUN ID +STATUS +STARTED +DURATION +STEPS DONE\/FAILED +WORKFLOW ID$/);
    const row = rows.find((r) => r.includes(failedRunId));
    expect(row).toMatch(
      new RegExp(`^fail_one +${failedRunId} +FAILED +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ +\\d+\\.\\ds +3/1 +${failedId}$`),
    );
    expect(rows.every((r) => r.startsWith('fail_one '))).toBe(true);
    // Children (the per-key workflows) are not runs.
    expect(listed.stdout).not.toMatch(/maybe_fail|\[/);

    const completed = await runsUntil(['--status', 'completed'], (out) => out.includes(greetRunId));
    expect(completed.stdout).toContain(greetRunId);
    expect(completed.stdout).not.toContain(failedRunId);
    expect(
      completed.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .every((r) => / COMPLETED /.test(r)),
    ).toBe(true);
    const greetRow = completed.stdout.split('\n').find((r) => r.includes(greetRunId));
    expect(greetRow).toMatch(/ 1\/0 /);

    const none = await cli('runs', '--job', 'no_such_job');
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('No runs of job no_such_job.\n');
    const bad = await cli('runs', '--status', 'exploded');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--status must be one of running, completed, failed, cancelled, terminated, timed-out');
  }, 120_000);

  it('formats durations and the table', () => {
    expect(durationText(1_234)).toBe('1.2s');
    expect(durationText(185_000)).toBe('3m 05s');
    expect(durationText(7_260_000)).toBe('2h 01m');
    const start = new Date('2026-11-23T10:00:00.123Z');
    expect(
      runsTable([
        { job: 'a', runId: 'r1', workflowId: 'a-r1', status: 'RUNNING', start, durationMs: 1000 },
        {
          job: 'long_job',
          runId: 'r2',
          workflowId: 'long_job-r2',
          status: 'FAILED',
          start,
          durationMs: 61_000,
          steps: { done: 5, failed: 2 },
        },
      ]),
    ).toEqual([
      'JOB       RUN ID  STATUS   STARTED               DURATION  STEPS DONE/FAILED  WORKFLOW ID',
      'a         r1      RUNNING  2026-11-23T10:00:00Z  1.0s      ?                  a-r1',
      'long_job  r2      FAILED   2026-11-23T10:00:00Z  1m 01s    5/2                long_job-r2',
    ]);
  });
});
