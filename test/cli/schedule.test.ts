/**
 * `opgraph schedule …` on the suite's real dev server: a schedule firing every 2 seconds starts runs of
 * the job like `launch` (type, task queue, OpgraphJob, the run config), which a worker in this process
 * runs; list, pause (no runs start), trigger (one starts while paused), delete.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { TemporalHarness } from '../integration/harness.ts';
import { captureIO } from './capture.ts';
import { failOne, greet, slow } from './fixtures/defs.ts';

const FIXTURES = 'test/cli/fixtures/defs.ts';

describe('opgraph schedule', () => {
  let harness: TemporalHarness;
  let env: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'opgraph-cli-schedule-'));
  const config = join(dir, 'greet.yaml');
  writeFileSync(config, 'ops:\n  greeting:\n    config: { greeting: Scheduled, times: 2 }\n');
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

  /** The runs a schedule started (the server tags them TemporalScheduledById). */
  async function runsOf(scheduleId: string): Promise<WorkflowExecutionInfo[]> {
    const runs: WorkflowExecutionInfo[] = [];
    for await (const info of harness.client.workflow.list({ query: `TemporalScheduledById = '${scheduleId}'` })) runs.push(info);
    return runs;
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('fires every 2s, starting runs as launch does; list, pause, trigger, delete', async () => {
    const id = `greet-every-2s-${randomUUID().slice(0, 8)}`;
    await harness.withWorker([failOne, greet, slow], async (taskQueue) => {
      const created = await cli(
        'schedule',
        'create',
        'greet',
        '--cron',
        '*/2 * * * * * *',
        '-c',
        config,
        '--id',
        id,
        '-m',
        FIXTURES,
        '-q',
        taskQueue,
        '--overlap',
        'buffer-one',
        '--catchup-window',
        '1m',
      );
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toBe(`${id}\n`);
      expect(created.stderr).toContain(
        `Schedule ${id}: job greet, cron */2 * * * * * *, on task queue "${taskQueue}" (overlap buffer-one, catch-up window 1m).`,
      );
      expect(created.stderr).toMatch(/Next run: \d{4}-\d\d-\d\dT/);

      // Two runs completed: each is a run of greet, tagged like a launched one, with the schedule's run config.
      const completed = await until('two completed scheduled runs', async () => {
        const done = (await runsOf(id)).filter((r) => r.status.name === 'COMPLETED');
        return done.length >= 2 ? done : undefined;
      });
      for (const run of completed) {
        expect(run.type).toBe('greet');
        expect(run.taskQueue).toBe(taskQueue);
        expect(run.workflowId).toMatch(/^greet-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        const { OpgraphJob } = (await harness.client.workflow.getHandle(run.workflowId).describe()).searchAttributes;
        expect(OpgraphJob).toEqual(['greet']);
      }
      // Each run has its own run id (the server's), which status and runs resolve.
      const [first, second] = completed;
      expect(first?.runId).not.toBe(second?.runId);
      const status = await cli('status', first?.runId ?? '');
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(`Workflow:   ${first?.workflowId}\nJob:        greet (run ${first?.runId})\nStatus:     COMPLETED\n`);
      expect(status.stdout).toContain('  Outputs:\n    greeting = ["Scheduled, opgraph!","Scheduled, opgraph!"]\n');
      const listedRuns = await cli('runs', '--job', 'greet', '--limit', '100');
      expect(listedRuns.stdout).toMatch(new RegExp(`^greet +${first?.runId} +COMPLETED .* 1/0 +${first?.workflowId}$`, 'm'));

      const list = await cli('schedule', 'list');
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/^ID +JOB +WHEN +STATE +NEXT RUN +RECENT RUNS +LAST WORKFLOW ID$/m);
      expect(list.stdout).toMatch(
        new RegExp(`^${id} +greet +cron \\*/2 \\* \\* \\* \\* \\* \\* +active +\\d{4}-.*Z +\\d+ +greet-\\d{4}-`, 'm'),
      );

      const paused = await cli('schedule', 'pause', id, '--note', 'maintenance');
      expect(paused.code, paused.stderr).toBe(0);
      expect(paused.stdout).toBe(`Paused schedule ${id}: no runs start until \`opgraph schedule unpause ${id}\` (runs in flight go on).\n`);
      expect((await cli('schedule', 'list')).stdout).toMatch(new RegExp(`^${id} .* paused \\(maintenance\\) +- +`, 'm'));
      await new Promise((r) => setTimeout(r, 1_000)); // a firing taken just before the pause may still be listing
      const whilePaused = (await runsOf(id)).length;
      await new Promise((r) => setTimeout(r, 5_000)); // two and a half periods
      expect((await runsOf(id)).length).toBe(whilePaused);

      const triggered = await cli('schedule', 'trigger', id);
      expect(triggered.code, triggered.stderr).toBe(0);
      expect(triggered.stdout).toContain(`Triggered schedule ${id}: a run of greet starts now`);
      await until('the triggered run', async () => ((await runsOf(id)).length === whilePaused + 1 ? true : undefined), 20_000);

      const unpaused = await cli('schedule', 'unpause', id);
      expect(unpaused.code, unpaused.stderr).toBe(0);
      expect(unpaused.stdout).toMatch(new RegExp(`^Unpaused schedule ${id}; next run \\d{4}-`));
      await until('a run after unpausing', async () => ((await runsOf(id)).length > whilePaused + 1 ? true : undefined), 20_000);

      const deleted = await cli('schedule', 'delete', id);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(deleted.stdout).toBe(`Deleted schedule ${id}; the runs it started are kept.\n`);
      expect((await cli('schedule', 'list')).stdout).not.toContain(id);
      const gone = await cli('schedule', 'pause', id);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toBe(`opgraph: no schedule "${id}" (\`opgraph schedule list\` lists them; check TEMPORAL_NAMESPACE)\n`);
      // Let the runs in flight finish before the worker stops.
      await until('scheduled runs to finish', async () =>
        (await runsOf(id)).every((r) => r.status.name !== 'RUNNING') ? true : undefined,
      );
    });
  }, 180_000);

  it('refuses what cannot work before creating anything', async () => {
    const id = `refused-${randomUUID().slice(0, 8)}`;
    const neither = await cli('schedule', 'create', 'greet', '-m', FIXTURES, '--id', id);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('pass exactly one of --cron');
    const fields = await cli('schedule', 'create', 'greet', '-m', FIXTURES, '--id', id, '--cron', '* *');
    expect(fields.code).toBe(2);
    expect(fields.stderr).toContain('--cron "* *" has 2 field(s)');
    const noConfig = await cli('schedule', 'create', 'greet', '-m', FIXTURES, '--id', id, '--every', '1h');
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toContain('greeting');
    const badEvery = await cli('schedule', 'create', 'greet', '-m', FIXTURES, '--id', id, '--every', 'often', '-c', config);
    expect(badEvery.code).toBe(2);
    expect(badEvery.stderr).toContain('--every must be a positive number of milliseconds');
    const badOverlap = await cli('schedule', 'create', 'greet', '-m', FIXTURES, '--id', id, '--every', '1h', '--overlap', 'sometimes');
    expect(badOverlap.code).toBe(2);
    expect((await cli('schedule', 'list')).stdout).not.toContain(id);

    const made = await cli('schedule', 'create', 'greet', '-m', FIXTURES, '--id', id, '--every', '1h', '-c', config, '--paused');
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toContain(`Schedule ${id}: job greet, every 1h, on task queue "opgraph" (overlap skip), paused.`);
    const again = await cli('schedule', 'create', 'greet', '-m', FIXTURES, '--id', id, '--every', '1h', '-c', config);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`a schedule "${id}" exists already: pass --id <another id>, or \`opgraph schedule delete ${id}\` first`);
    expect((await cli('schedule', 'delete', id)).code).toBe(0);
  });
});
