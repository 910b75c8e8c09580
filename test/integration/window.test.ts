import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchRun } from '../../src/client/run.ts';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import type { RunProgress } from '../../src/workflows/progress.ts';
import { TemporalHarness } from './harness.ts';

// The worker runs in this process, so ops can count how many of them run at once.
let running = 0;
let peak = 0;

const keys = op({ name: 'window_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 12; i++) yield new DynamicOutput(i, `k${i}`);
});
const tracked = op({ name: 'window_tracked' }, async (_ctx, x: number) => {
  running++;
  peak = Math.max(peak, running);
  await new Promise((r) => setTimeout(r, 150));
  running--;
  return x;
});
const count = op({ name: 'window_count' }, async (_ctx, xs: number[]) => xs.length);

const windowed = job({ name: 'windowed' }, () => {
  count(keys().map(tracked, { mode: 'activity', maxConcurrency: 3 }).collect());
});

const sharded = job({ name: 'window_sharded' }, () => {
  count(keys().map(tracked, { mode: 'activity', shardSize: 5 }).collect());
});

describe('sliding window and shard progress', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('never runs more than maxConcurrency keys of a map at once', async () => {
    peak = 0;
    const result = await harness.run(windowed);
    expect(await result.outputFor('window_count')).toBe(12);
    expect(peak).toBe(3);
  });

  it('progress counts add up across shards', async () => {
    const progress = await harness.withWorker([sharded], async (taskQueue) => {
      const run = await launchRun(harness.client, sharded, { taskQueue });
      await run.handle.result();
      return run.handle.query<RunProgress>('progress');
    });
    expect(progress.dimensions['window_keys:result']).toEqual({ total: 12, done: 12, running: 0, failed: 0 });
    expect(progress.nodes.window_tracked).toMatchObject({ succeeded: 12, failed: 0 });
    expect(progress.nodes.window_count).toMatchObject({ succeeded: 1 });
  });
});
