/**
 * The workflow-wide budget on a real server (DESIGN §4 Limits): concurrent maps share one budget of
 * pending activities and children per workflow, and their projected history events decide which
 * maps shard — so no job shape reaches Temporal's 2,000 pending or its 10,240-event budget.
 * Peaks are read with describe() while the runs are in flight; history lengths from visibility.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { awaitRun, launchRun, type LaunchOptions } from '../../src/client/run.ts';
import type { JobResult } from '../../src/client/result.ts';
import type { JobDefinition } from '../../src/dsl/job.ts';
import { BUDGET, TEMPORAL } from '../../src/dsl/limits.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import type { CreateWorkerOptions } from '../../src/worker/createWorker.ts';
import { TemporalHarness } from './harness.ts';

const emit = op(
  { name: 'budget_emit', out: new DynamicOut<number>(), config: z.object({ keys: z.number().int() }) },
  async function* (ctx) {
    for (let i = 0; i < ctx.opConfig.keys; i++) yield new DynamicOutput(i, `k${i}`);
  },
);
/** Slow enough that a map's keys are all pending at once (the worker runs ~100 at a time). */
const slowInc = op({ name: 'budget_slow_inc' }, async (_ctx, x: number) => {
  await sleep(1500);
  return x + 1;
});
/**
 * Holds every started key until 1,000 have started (or 60 s pass): with a correct budget exactly
 * 1,000 are pending together, whenever each map's fan-out finished; without it, all 1,260 would be.
 */
let barrierStarted = 0;
const barrierInc = op({ name: 'budget_barrier_inc' }, async (_ctx, x: number) => {
  barrierStarted++;
  const until = Date.now() + 60_000;
  while (barrierStarted < BUDGET.pendingActivities && Date.now() < until) await sleep(100);
  await sleep(2_000);
  return x + 1;
});
const inc = op({ name: 'budget_inc' }, async (_ctx, x: number) => x + 1);
const total = op({ name: 'budget_total' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const seed = op({ name: 'budget_seed' }, async () => 10);
const addTo = op({ name: 'budget_add_to' }, async (_ctx, x: number, y: number) => x + y);
const fanAgain = op({ name: 'budget_fan_again', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  for (let j = 0; j < 3; j++) yield new DynamicOutput(x * 10 + j, `j${j}`);
});

/** `maps` independent maps of `keys` keys each, in `mode`: emit → slowInc per key → total. */
function concurrentMaps(name: string, maps: number, mode: FanOutMode, work = slowInc): JobDefinition {
  return job({ name }, () => {
    for (let m = 0; m < maps; m++) total(emit().map(work, { mode }).collect());
  });
}

const sumPlusOne = (keys: number) => (keys * (keys + 1)) / 2;

function keysConfig(prefix: string, maps: number, keys: number) {
  const ops: Record<string, { config: { keys: number } }> = {};
  for (let m = 0; m < maps; m++) ops[m === 0 ? prefix : `${prefix}_${m + 1}`] = { config: { keys } };
  return { ops };
}

interface Peaks {
  activities: number;
  children: number;
  /** Workflows seen pending something: the job and its shards. */
  watched: number;
}

/** Polls describe() of the run's job workflow and of every shard workflow it may start, until `done`. */
async function watchPeaks(client: Client, workflowId: string, fanOuts: readonly string[], done: Promise<unknown>): Promise<Peaks> {
  const peaks: Peaks = { activities: 0, children: 0, watched: 0 };
  let finished = false;
  void done.finally(() => (finished = true));
  // The job and the first shards of each map: enough to see every workflow that holds pending work here.
  const ids = [workflowId, ...fanOuts.flatMap((f) => [0, 1].map((i) => `${workflowId}/${f}[shard_${i}]`))];
  const seen = new Set<string>();
  while (!finished) {
    await Promise.all(
      ids.map(async (id) => {
        const handle: WorkflowHandle = client.workflow.getHandle(id);
        const described = await handle.describe().catch(() => undefined);
        if (!described) return;
        const activities = described.raw.pendingActivities?.length ?? 0;
        const children = described.raw.pendingChildren?.length ?? 0;
        if (activities + children > 0) seen.add(id);
        peaks.activities = Math.max(peaks.activities, activities);
        peaks.children = Math.max(peaks.children, children);
      }),
    );
    await sleep(500);
  }
  peaks.watched = seen.size;
  return peaks;
}

/** Every workflow of a run (job, shards, per-key children) with its history length, from visibility. */
async function histories(client: Client, runId: string): Promise<{ id: string; events: number }[]> {
  // Visibility lags a little behind the run's end.
  await sleep(1500);
  const found: { id: string; events: number }[] = [];
  for await (const info of client.workflow.list({ query: `OpgraphRunId = '${runId}'` })) {
    found.push({ id: info.workflowId, events: info.historyLength });
  }
  return found;
}

describe('one workflow-wide budget', () => {
  let harness: TemporalHarness;
  const run = async (
    definition: JobDefinition,
    runConfig: LaunchOptions['runConfig'],
    fanOuts: string[],
    workerOptions: Partial<CreateWorkerOptions> = {},
  ) => {
    return harness.withWorker(
      [definition],
      async (taskQueue) => {
        const launched = await launchRun(harness.client, definition, { taskQueue, runConfig });
        const result: Promise<JobResult> = awaitRun(launched);
        const peaks = await watchPeaks(harness.client, launched.workflowId, fanOuts, result);
        return { launched, result: await result, peaks };
      },
      workerOptions,
    );
  };
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  const fanOuts = ['budget_emit', 'budget_emit_2', 'budget_emit_3', 'budget_emit_4', 'budget_emit_5'];

  it.each(['activity', 'child'] as const)(
    'five concurrent maps × 450 slow keys in %s mode: the run ends with the right sums, pending stays within the budget, no history passes 10,240 events',
    async (mode) => {
      const definition = concurrentMaps(`budget_five_maps_${mode}`, 5, mode);
      const { launched, result, peaks } = await run(definition, keysConfig('budget_emit', 5, 450), fanOuts);
      expect(result.failures).toEqual([]);
      for (const node of ['budget_total', 'budget_total_2', 'budget_total_3', 'budget_total_4', 'budget_total_5']) {
        expect(await result.outputFor(node)).toBe(sumPlusOne(450));
      }
      expect(peaks.activities).toBeLessThanOrEqual(BUDGET.pendingActivities);
      expect(peaks.children).toBeLessThanOrEqual(BUDGET.pendingChildren);
      // 2,250 keys at once would pass Temporal's 2,000: they were spread over the job and its shards.
      expect(peaks.watched).toBeGreaterThan(1);
      const all = await histories(harness.client, launched.runId);
      const longest = Math.max(...all.map((h) => h.events));
      expect(longest).toBeLessThanOrEqual(TEMPORAL.historyEventsWarn);
      console.error(
        `[budget] five maps × 450, ${mode} mode: peak pending activities ${peaks.activities}, children ${peaks.children}; ${peaks.watched} workflows held pending work; ${all.length} workflows, longest history ${longest} events`,
      );
    },
    600_000,
  );

  it("three maps × 420 slow keys in activity mode fit one history: the budget, not the maps' windows (3 × 500), caps pending activities", async () => {
    const definition = concurrentMaps('budget_three_maps', 3, 'activity', barrierInc);
    // Enough activity slots that every admitted key runs at once: pending is what the workflow admitted.
    const { launched, result, peaks } = await run(definition, keysConfig('budget_emit', 3, 420), [], {
      maxConcurrentActivityTaskExecutions: 1500,
    });
    expect(result.failures).toEqual([]);
    for (const node of ['budget_total', 'budget_total_2', 'budget_total_3']) expect(await result.outputFor(node)).toBe(sumPlusOne(420));
    // 1,260 keys would be pending at once under per-map windows alone.
    expect(peaks.activities).toBeLessThanOrEqual(BUDGET.pendingActivities);
    expect(peaks.activities).toBeGreaterThan(BUDGET.pendingActivities * 0.9);
    const all = await histories(harness.client, launched.runId);
    expect(all.map((h) => h.id)).toEqual([launched.workflowId]); // no shards: it all fit one history
    console.error(
      `[budget] three maps × 420, activity mode: peak pending activities ${peaks.activities}; history ${all[0]?.events} events`,
    );
  }, 300_000);

  it('a mixed job — static ops, three maps in three modes and a nested map, all at once — stays within the budget', async () => {
    const definition = job({ name: 'budget_mixed' }, () => {
      const s = seed();
      const a = total(
        emit()
          .map((x) => addTo(slowInc(x), s), { mode: 'child' })
          .collect(),
      );
      const b = total.alias('budget_total_b')(emit().map(slowInc, { mode: 'activity' }).collect());
      const c = total.alias('budget_total_c')(emit().map(inc, { mode: 'batch', batchSize: 50 }).collect());
      // Nested: each outer key fans out again and collects inside its own scope.
      const d = total.alias('budget_total_d')(
        emit()
          .map((x) => total.alias('budget_inner_total')(fanAgain(x).map(inc).collect()))
          .collect(),
      );
      total.alias('budget_grand_total')([a, b, c, d]);
    });
    const config = {
      ops: {
        budget_emit: { config: { keys: 400 } },
        budget_emit_2: { config: { keys: 900 } },
        budget_emit_3: { config: { keys: 2000 } },
        budget_emit_4: { config: { keys: 60 } },
      },
    };
    const { launched, result, peaks } = await run(definition, config, ['budget_emit', 'budget_emit_2', 'budget_emit_3', 'budget_emit_4']);
    expect(result.failures).toEqual([]);
    const a = sumPlusOne(400) + 400 * 10;
    const b = sumPlusOne(900);
    const c = sumPlusOne(2000);
    // inner keys x*10+j, +1 each, per outer key x: 30x + 3 + 3; summed over x < 60.
    const d = Array.from({ length: 60 }, (_, x) => 30 * x + 6).reduce((p, q) => p + q, 0);
    expect(await result.outputFor('budget_total')).toBe(a);
    expect(await result.outputFor('budget_total_b')).toBe(b);
    expect(await result.outputFor('budget_total_c')).toBe(c);
    expect(await result.outputFor('budget_total_d')).toBe(d);
    expect(await result.outputFor('budget_grand_total')).toBe(a + b + c + d);
    expect(peaks.activities).toBeLessThanOrEqual(BUDGET.pendingActivities);
    expect(peaks.children).toBeLessThanOrEqual(BUDGET.pendingChildren);
    const all = await histories(harness.client, launched.runId);
    const longest = Math.max(...all.map((h) => h.events));
    expect(longest).toBeLessThanOrEqual(TEMPORAL.historyEventsWarn);
    console.error(
      `[budget] mixed job: peak pending activities ${peaks.activities}, children ${peaks.children}; ${all.length} workflows, longest history ${longest} events`,
    );
  }, 300_000);

  it('maps that each fit one history but not together shard: four maps × 900 keys in activity mode, no history over 10,240 events', async () => {
    // Each map alone (900 × 6 = 5,400 events) fits, and is under the per-map shard size (1,000):
    // before the budget none of them sharded, and the job's history took ~21,600 events.
    const definition = concurrentMaps('budget_events', 4, 'activity', inc);
    const { launched, result } = await run(definition, keysConfig('budget_emit', 4, 900), []);
    expect(result.failures).toEqual([]);
    for (const node of ['budget_total', 'budget_total_2', 'budget_total_3', 'budget_total_4'])
      expect(await result.outputFor(node)).toBe(sumPlusOne(900));
    const all = await histories(harness.client, launched.runId);
    const shards = all.filter((h) => h.id.includes('[shard_'));
    expect(shards.length).toBeGreaterThan(0);
    const longest = Math.max(...all.map((h) => h.events));
    expect(longest).toBeLessThanOrEqual(TEMPORAL.historyEventsWarn);
    console.error(`[budget] four maps × 900, activity mode: ${shards.length} shard workflows; longest history ${longest} events`);
  }, 300_000);
});
