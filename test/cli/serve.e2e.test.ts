/**
 * `opgraph worker` + `opgraph run --no-worker` (with a YAML run config), and Ctrl+C during
 * `opgraph run`, as child processes against the suite's dev server.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TemporalHarness } from '../integration/harness.ts';
import { opgraph, runOpgraph } from './spawn.ts';

const FIXTURES = 'test/cli/fixtures/defs.ts';

describe('opgraph worker / run --no-worker / Ctrl+C (subprocesses, suite server)', () => {
  let harness: TemporalHarness;
  let env: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'opgraph-cli-serve-'));
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await harness?.close();
  });

  it('`worker` serves a task queue; `run --no-worker` goes through it with op config from a YAML file', async () => {
    const taskQueue = `cli-worker-${randomUUID()}`;
    const worker = opgraph(['worker', '--module', FIXTURES, '--task-queue', taskQueue], env);
    try {
      await worker.waitFor(/opgraph worker: 3 job\(s\) \[fail_one, greet, slow\] on task queue "cli-worker-/);
      const config = join(dir, 'greet.yaml');
      writeFileSync(config, 'ops:\n  greeting:\n    config:\n      greeting: Hello\n      times: 2\n');
      const run = await runOpgraph(['run', 'greet', '--no-worker', '-q', taskQueue, '-m', FIXTURES, '-c', config], env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('Outputs:\n  greeting = ["Hello, opgraph!","Hello, opgraph!"]\n');
      expect(run.stderr).toContain(`(task queue "${taskQueue}")`);
      expect(run.stderr).not.toContain('Starting a worker in this process');
      expect(run.stderr).toMatch(/^\[\d+\.\ds\] greeting: succeeded$/m);
    } finally {
      worker.child.kill('SIGINT');
    }
    const stopped = await worker.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain('opgraph worker: stopped');
  }, 180_000);

  it('`worker`, `launch` and `run --no-worker` need TEMPORAL_ADDRESS (exit 2, saying so)', async () => {
    const [worker, launch, run] = await Promise.all([
      runOpgraph(['worker', '-m', FIXTURES]),
      runOpgraph(['launch', 'greet', '-m', FIXTURES]),
      runOpgraph(['run', 'fail_one', '--no-worker', '-m', FIXTURES]),
    ]);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('opgraph: `opgraph worker` needs a running Temporal server: set TEMPORAL_ADDRESS=host:port');
    expect(launch.code).toBe(2);
    expect(launch.stderr).toContain('`opgraph launch` needs a running Temporal server');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--no-worker needs TEMPORAL_ADDRESS');
  }, 60_000);

  it('Ctrl+C during `run` cancels the run (ops see ctx.signal), which ends CANCELLED; exit 1', async () => {
    const run = opgraph(['run', 'slow', '--module', FIXTURES], env);
    await run.waitFor(/map over slow_keys \[-{20}\] 0\/2 keys done, 2 running, 0 failed/);
    const workflowId = /as workflow (slow-[0-9a-f-]{36})/.exec(run.stderr())?.[1] ?? '';
    // Interrupt once both keys' ops are running (their children started, activities picked up).
    for (const key of ['x', 'y']) {
      const child = harness.client.workflow.getHandle(`${workflowId}/slow_keys[${key}]`);
      for (;;) {
        const pending = await child.describe().then(
          (d) => d.raw.pendingActivities ?? [],
          () => [],
        );
        if (pending.some((a) => a.lastStartedTime)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.done;
    expect(code, stderr).toBe(1);
    expect(stderr).toContain(`Cancelling run ${workflowId} …`);
    expect(stdout).toMatch(/^Run [0-9a-f-]{36} of job slow was CANCELLED after \d+\.\ds\.$/m);
    const description = await harness.client.workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('CANCELLED');
    // The run can end while a child still finishes its own cancellation: its parent close policy
    // (REQUEST_CANCEL) then cancels it, so wait for it to close.
    let child = await harness.client.workflow.getHandle(`${workflowId}/slow_keys[x]`).describe();
    for (let i = 0; i < 100 && child.status.name === 'RUNNING'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      child = await harness.client.workflow.getHandle(`${workflowId}/slow_keys[x]`).describe();
    }
    expect(child.status.name).toBe('CANCELLED');
  }, 180_000);
});
