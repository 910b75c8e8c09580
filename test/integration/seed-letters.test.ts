import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpContext } from '../../src/dsl/op.ts';
import type { JobResult } from '../../src/client/result.ts';
import type { LaunchedRun } from '../../src/client/run.ts';
import {
  computePiece,
  computePieceInWorker,
  dynamicOutputs,
  mapInWorkerThreads,
  pythonParallelism,
  type WorkerTools,
} from '../../examples/letters.ts';
import { TemporalHarness } from './harness.ts';

const letters = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
const upper = letters.map((l) => l.toUpperCase());

/** Server-side wall time of a run: the job workflow's start to close. */
async function runSeconds(run: LaunchedRun): Promise<number> {
  const { startTime, closeTime } = await run.handle.describe();
  if (!closeTime) throw new Error(`run ${run.workflowId} has not closed`);
  return (closeTime.getTime() - startTime.getTime()) / 1000;
}

/** The inputs the op runner received for `activityId`, read from the workflow's history. */
async function activityInputs(h: TemporalHarness, workflowId: string, activityId: string): Promise<Record<string, unknown>> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityId !== activityId) continue;
    const data = scheduled.input?.payloads?.[0]?.data;
    if (!data) break;
    return (JSON.parse(Buffer.from(data).toString('utf8')) as { inputs: Record<string, unknown> }).inputs;
  }
  throw new Error(`no activity ${activityId} scheduled in ${workflowId}`);
}

describe('seed "dynamic outputs vs Python parallelism": letters a..z both ways', () => {
  let h: TemporalHarness;
  let dynamic: { run: LaunchedRun; result: JobResult };
  let parallel: { run: LaunchedRun; result: JobResult };

  beforeAll(async () => {
    h = await TemporalHarness.connect();
    [dynamic, parallel] = await Promise.all([
      h.runWithHandle(dynamicOutputs),
      // 13 threads: two one-second rounds. (The default, CPU count - 1, is a single thread on a 2-CPU machine.)
      h.runWithHandle(pythonParallelism, { runConfig: { ops: { load_and_process_pieces: { config: { num_threads: 13 } } } } }),
    ]);
  });
  afterAll(async () => h?.close());

  describe('dynamic outputs (seed job dynamic_graph, here dynamic_outputs)', () => {
    it('computes each letter upper-cased, in yield order, and merge_and_analyze returns None (null)', async () => {
      expect(dynamic.result.failures).toEqual([]);
      expect(dynamic.result.success).toBe(true);
      const pieces = (await dynamic.result.outputFor('letters_compute_piece')) as Map<string, string>;
      expect([...pieces.keys()]).toEqual(letters);
      expect([...pieces.values()]).toEqual(upper);
      expect(await dynamic.result.outputFor('letters_merge_and_analyze')).toBeNull();
    });

    it('has the fan-out, 26 step keys letters_compute_piece[a]..[z], and the collect', () => {
      expect(dynamic.result.stepStatuses()).toEqual({
        letters_load_pieces: 'SUCCESS',
        letters_merge_and_analyze: 'SUCCESS',
        ...Object.fromEntries(letters.map((l) => [`letters_compute_piece[${l}]`, 'SUCCESS'])),
      });
    });

    it('hands merge_and_analyze the collected list in yield order', async () => {
      const inputs = await activityInputs(h, dynamic.run.workflowId, 'letters_merge_and_analyze');
      expect(inputs).toEqual({ computedPieces: upper });
    });

    it('runs the 26 one-second sleeps concurrently: the run takes well under 26 s', async () => {
      const seconds = await runSeconds(dynamic.run);
      expect(seconds).toBeGreaterThanOrEqual(1);
      expect(seconds).toBeLessThan(20);
    });
  });

  describe('parallelism inside one op (seed job python_parallelism)', () => {
    it('returns the upper-cased letters in input order from one op; merge_and_analyze returns None (null)', async () => {
      expect(parallel.result.failures).toEqual([]);
      expect(parallel.result.success).toBe(true);
      expect(await parallel.result.outputFor('load_and_process_pieces')).toEqual(upper);
      expect(await parallel.result.outputFor('letters_merge_and_analyze')).toBeNull();
      expect(parallel.result.stepStatuses()).toEqual({ load_and_process_pieces: 'SUCCESS', letters_merge_and_analyze: 'SUCCESS' });
      expect(await activityInputs(h, parallel.run.workflowId, 'letters_merge_and_analyze')).toEqual({ computedPieces: upper });
    });

    it('sleeps on 13 threads at once: about 2 s, not 26 s', async () => {
      const seconds = await runSeconds(parallel.run);
      expect(seconds).toBeGreaterThanOrEqual(2);
      expect(seconds).toBeLessThan(20);
    });
  });
});

describe('the worker-thread pool and cancellation (no server)', () => {
  it('runs items on real threads at the same time and keeps input order', async () => {
    // Each item records when its thread started and finished sleeping: with 4 threads for 4 items,
    // every sleep starts before any ends (on one thread they would follow each other).
    const spans = await mapInWorkerThreads(
      (n: number, tools: WorkerTools) => {
        const start = Date.now();
        tools.sleep(1000);
        return { n, start, end: Date.now() };
      },
      [1, 2, 3, 4],
      { threads: 4 },
    );
    expect(spans.map((s) => s.n)).toEqual([1, 2, 3, 4]);
    for (const s of spans) expect(s.end - s.start).toBeGreaterThanOrEqual(990);
    expect(Math.max(...spans.map((s) => s.start))).toBeLessThan(Math.min(...spans.map((s) => s.end)));
  });

  it('reports a failing item with its error', async () => {
    await expect(
      mapInWorkerThreads(
        (n: number) => {
          if (n === 2) throw new Error('bad unit 2');
          return n;
        },
        [1, 2, 3],
        { threads: 2 },
      ),
    ).rejects.toThrow(/item 1 failed in a worker thread: Error: bad unit 2/);
  });

  it('abort wakes sleeping threads: 26 one-second units on one thread stop within a second', async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error('run cancelled')), 200);
    await expect(mapInWorkerThreads(computePieceInWorker, letters, { threads: 1, signal: controller.signal })).rejects.toThrow(
      'run cancelled',
    );
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("compute_piece's one-second sleep ends as soon as ctx.signal fires", async () => {
    const controller = new AbortController();
    const ctx = { signal: controller.signal } as unknown as OpContext<unknown>;
    const started = performance.now();
    setTimeout(() => controller.abort(), 50);
    await expect(computePiece.fn(ctx, 'q') as Promise<string>).rejects.toThrow(/abort/i);
    expect(performance.now() - started).toBeLessThan(800);
    expect(await computePiece.fn({ signal: new AbortController().signal } as unknown as OpContext<unknown>, 'q')).toBe('Q');
  });
});
