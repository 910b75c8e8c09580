/** `opgraph worker --processes 2`: two worker processes share the task queue, so CPU-bound ops use both cores. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TemporalHarness } from '../integration/harness.ts';
import { opgraph, runOpgraph } from './spawn.ts';

describe('opgraph worker --processes', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('runs N worker processes that each take steps, and stops them all on Ctrl+C', async () => {
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
    const taskQueue = `cli-processes-${randomUUID()}`;
    const module = 'test/cli/fixtures/spread.ts';
    const workers = opgraph(['worker', '--processes', '2', '--module', module, '--task-queue', taskQueue], env);
    try {
      await workers.waitFor(/starting 2 worker processes/);
      // Both children announce themselves before the run starts, so both can take work.
      await workers.waitFor(/(opgraph worker: 1 job\(s\) \[spread\][^\n]*\n[\s\S]*){2}/, 120_000);
      const run = await runOpgraph(['run', 'spread', '--no-worker', '-q', taskQueue, '-m', module], env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/distinct_pids = 2\b/);
    } finally {
      workers.child.kill('SIGINT');
    }
    const finished = await workers.done;
    expect(finished.stderr).toContain('all 2 worker processes stopped');
    expect(finished.code).toBe(0);
  }, 240_000);
});
