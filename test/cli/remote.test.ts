/**
 * `launch`, `status` and `cancel` against the suite's dev server, with a worker for the fixture
 * jobs running in this test process (harness.withWorker) on the task queue passed to `launch`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import type { RunProgress } from '../../src/workflows/progress.ts';
import { TemporalHarness } from '../integration/harness.ts';
import { captureIO } from './capture.ts';
import { failOne, greet, slow } from './fixtures/defs.ts';
import { runOpgraph } from './spawn.ts';

const FIXTURES = 'test/cli/fixtures/defs.ts';
const UI = 'http://ui.example:8233/';

describe('opgraph launch / status / cancel', () => {
  let harness: TemporalHarness;
  let env: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'opgraph-cli-remote-'));
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    env = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_UI_URL: UI };
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

  it('launch prints only the workflow id; status shows progress; cancel ends the run CANCELLED', async () => {
    await harness.withWorker([failOne, greet, slow], async (taskQueue) => {
      // The real binary: stdout is exactly one line, the workflow id.
      const launched = await runOpgraph(['launch', 'slow', '-m', FIXTURES, '--task-queue', taskQueue], env);
      expect(launched.code, launched.stderr).toBe(0);
      expect(launched.stdout).toMatch(/^slow-[0-9a-f-]{36}\n$/);
      const workflowId = launched.stdout.trim();
      expect(launched.stderr).toContain(`Web UI: http://ui.example:8233/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
      expect(launched.stderr).toContain(`opgraph status ${workflowId}`);

      const handle = harness.client.workflow.getHandle(workflowId);
      for (;;) {
        const progress = await handle.query<RunProgress>('progress').catch(() => undefined);
        if (progress?.dimensions['slow_keys:result']?.running === 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }

      const running = await cli('status', workflowId);
      expect(running.code, running.stderr).toBe(0);
      const runId = workflowId.slice('slow-'.length);
      expect(running.stdout).toContain(
        `Workflow:   ${workflowId}\nJob:        slow (run ${runId})\nStatus:     RUNNING\nTask queue: ${taskQueue}\n`,
      );
      expect(running.stdout).toContain(
        [
          'Progress:',
          '  ✔ slow_keys             succeeded',
          '  ▸ map over slow_keys    [░░░░░░░░░░░░░░░░░░░░░░░░] 0/2 keys done, 2 running, 0 failed',
          '      wait_for_cancel[*]  0 succeeded',
          '  ○ slow_gather           pending',
        ].join('\n'),
      );
      expect(running.stdout).not.toContain('Result:');
      expect(running.stdout).toContain(`Web UI: http://ui.example:8233/namespaces/default/workflows/${workflowId}\n`);

      const cancelled = await cli('cancel', workflowId);
      expect(cancelled.code, cancelled.stderr).toBe(0);
      expect(cancelled.stdout).toBe(
        `Cancellation requested for ${workflowId}; its running ops are cancelled and the run ends CANCELLED.\n`,
      );
      await expect(handle.result()).rejects.toThrow();
      expect((await handle.describe()).status.name).toBe('CANCELLED');

      const after = await cli('status', workflowId);
      expect(after.code).toBe(1);
      expect(after.stdout).toContain('Status:     CANCELLED\n');
      expect(after.stdout).toMatch(/\nClosed: {5}\d{4}-\d\d-\d\dT/);
      expect(after.stdout).toContain(`Result:\n  Run ${runId} of job slow was CANCELLED.\n`);
      // The last snapshot still counts the two keys as running and the gather as not begun: they read cancelled / not started.
      expect(after.stdout).toContain(
        [
          'Progress:',
          '  ✔ slow_keys             succeeded',
          '  ⊗ map over slow_keys    [░░░░░░░░░░░░░░░░░░░░░░░░] 0/2 keys done, 2 cancelled, 0 failed',
          '      wait_for_cancel[*]  0 succeeded',
          '  ○ slow_gather           not started',
        ].join('\n'),
      );
      expect(after.stdout).not.toMatch(/running|pending/);

      const again = await cli('cancel', workflowId);
      expect(again.code).toBe(1);
      expect(again.stderr).toBe(`opgraph: workflow ${workflowId} is not running (status CANCELLED); nothing to cancel\n`);
    });
  }, 180_000);

  it('status of a failed run lists the failed step key; launch applies the run config file', async () => {
    await harness.withWorker([failOne, greet, slow], async (taskQueue) => {
      const launched = await cli('launch', 'fail_one', '-m', FIXTURES, '-q', taskQueue);
      expect(launched.code, launched.stderr).toBe(0);
      const workflowId = launched.stdout.trim();
      await harness.client.workflow
        .getHandle(workflowId)
        .result()
        .catch(() => undefined);

      const status = await cli('status', workflowId);
      expect(status.code, status.stderr).toBe(1);
      expect(status.stdout).toContain('Status:     FAILED\n');
      expect(status.stdout).toContain('  ✔ map over cli_keys  [████████████████████████] 3/3 keys done, 0 running, 1 failed');
      expect(status.stdout).toContain(
        [
          'Failed steps (1):',
          '    maybe_fail[b]: OpUserError (Error): [fail_one maybe_fail[b]] op "maybe_fail" raised Error (at test/cli/fixtures/defs.ts:17:26): bad key b',
          '  Abandoned steps (1): cli_gather',
        ].join('\n'),
      );

      const config = join(dir, 'greet.json');
      writeFileSync(config, JSON.stringify({ ops: { greeting: { config: { greeting: 'Hi', times: 3 } } } }));
      const greeted = await cli('launch', 'greet', '-m', FIXTURES, '-q', taskQueue, '--config', config);
      expect(greeted.code, greeted.stderr).toBe(0);
      const greetId = greeted.stdout.trim();
      await harness.client.workflow.getHandle(greetId).result();
      const done = await cli('status', greetId);
      expect(done.code, done.stderr).toBe(0);
      expect(done.stdout).toContain('Status:     COMPLETED\n');
      expect(done.stdout).toContain('  ✔ greeting  succeeded\n');
      expect(done.stdout).toContain('  Outputs:\n    greeting = ["Hi, opgraph!","Hi, opgraph!","Hi, opgraph!"]\n');
    });
  }, 120_000);

  it('reexecute --from-failure runs the failed key and its collect again, taking over the rest', async () => {
    await harness.withWorker([failOne, greet, slow], async (taskQueue) => {
      const launched = await cli('launch', 'fail_one', '-m', FIXTURES, '-q', taskQueue);
      const parentId = launched.stdout.trim();
      await harness.client.workflow
        .getHandle(parentId)
        .result()
        .catch(() => undefined);

      const nothing = await cli('reexecute', parentId);
      expect(nothing.code).not.toBe(0);
      expect(nothing.stderr).toContain('re-execute what? pass fromFailure (--from-failure) or stepKeys');

      // maybe_fail[b] still fails (the fixture always raises for b): the re-execution fails the same way.
      const again = await cli('reexecute', parentId, '--from-failure');
      expect(again.code, again.stderr).toBe(1);
      expect(again.stdout).toMatch(/^fail_one-[0-9a-f-]{36}\n$/);
      expect(again.stderr).toContain(`Re-executing ${parentId}: 3 succeeded step(s) taken over`);
      expect(again.stderr).toContain('maybe_fail[b]: OpUserError (Error)');
      expect(again.stderr).toContain(`Reused 3 step(s) from ${parentId}; ran 2.`);
      const memo = (await harness.client.workflow.getHandle(again.stdout.trim()).describe()).memo;
      expect(memo?.opgraphParentRun).toMatchObject({ workflowId: parentId, reused: 3 });

      const selected = await cli('reexecute', parentId, '--step-keys', 'maybe_fail[a]', '--no-wait');
      expect(selected.code, selected.stderr).toBe(0);
      expect(selected.stderr).toContain(`opgraph status ${selected.stdout.trim()}`);
      await harness.client.workflow
        .getHandle(selected.stdout.trim())
        .result()
        .catch(() => undefined);
    });
  }, 120_000);

  it('status / cancel of an unknown workflow exit 1 and say so', async () => {
    const status = await cli('status', 'nope-123');
    expect(status.code).toBe(1);
    expect(status.stderr).toBe(
      'opgraph: no workflow "nope-123" in namespace "default", and no run with that run id (pass the workflow id printed by `opgraph launch` — `<job>-<runId>` — or the run id; `opgraph runs` lists both; check TEMPORAL_NAMESPACE)\n',
    );
    const cancel = await cli('cancel', 'nope-123');
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toContain('no workflow "nope-123"');
  });
});
