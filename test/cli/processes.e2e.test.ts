/**
 * `opgraph worker --processes 2`: two worker processes share the task queue, so CPU-bound ops use both
 * cores; a worker process that dies is restarted (src/cli/supervise.ts), and Ctrl+C stops them all.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TemporalHarness } from '../integration/harness.ts';
import { opgraph, runOpgraph } from './spawn.ts';

const ANNOUNCE = /opgraph worker: 1 job\(s\) \[spread\][^\n]*\n/g;

describe('opgraph worker --processes', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('runs N worker processes that each take steps, restarts one that is SIGKILLed, and stops them all on Ctrl+C', async () => {
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
    const taskQueue = `cli-processes-${randomUUID()}`;
    const module = 'test/cli/fixtures/spread.ts';
    const workers = opgraph(['worker', '--processes', '2', '--module', module, '--task-queue', taskQueue], env);
    const spread = () => runOpgraph(['run', 'spread', '--no-worker', '-q', taskQueue, '-m', module], env);
    try {
      await workers.waitFor(/starting 2 worker processes/);
      // Both children announce themselves before the run starts, so both can take work.
      await workers.waitFor(/(opgraph worker: 1 job\(s\) \[spread\][^\n]*\n[\s\S]*){2}/, 120_000);
      const first = await spread();
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/distinct_pids = 2\b/);

      // SIGKILL process 1: the supervisor logs how it ended and restarts it after 1 s.
      const pid = Number(/process 1 started \(pid (\d+)\)/.exec(workers.stderr())?.[1]);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGKILL');
      await workers.waitFor(
        new RegExp(`process 1 \\(pid ${pid}\\) was killed by SIGKILL after [\\d.]+ s; restarting it in 1 s \\(restart #1\\)`),
      );
      await workers.waitFor(/process 1 started \(pid \d+\), restart #1/, 30_000);
      const restartedPid = Number(/process 1 started \(pid (\d+)\), restart #1/.exec(workers.stderr())?.[1]);
      expect(restartedPid).not.toBe(pid);
      // The restarted process announces itself too (a third announcement), then a run uses both processes again.
      await workers.waitFor(/(opgraph worker: 1 job\(s\) \[spread\][^\n]*\n[\s\S]*){3}/, 120_000);
      const second = await spread();
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toMatch(/distinct_pids = 2\b/);
    } finally {
      workers.child.kill('SIGINT');
    }
    const finished = await workers.done;
    expect(finished.stderr).toContain('all 2 worker processes stopped');
    // Nothing is restarted after Ctrl+C.
    expect(finished.stderr.match(/restarting it in/g)).toHaveLength(1);
    expect(finished.stderr.match(ANNOUNCE)).toHaveLength(3);
    expect(finished.code).toBe(0);
  }, 300_000);
});
