/**
 * Live control of a running map (issue 11 part 4): pause stops admitting keys while keys in flight
 * finish, resume continues, resize changes the window — in child, activity and batch mode, for a
 * sharded map (the job forwards to its shard workflows) and for a map nested in child workflows;
 * the update validator's refusals. The worker runs in this process, so ops keep a per-key start
 * ledger; pending counts come from describe().
 */
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MapControlError, type MapControlReport, pauseMap, resizeMap, resumeMap } from '../../src/client/control.ts';
import { awaitRun, launchRun } from '../../src/client/run.ts';
import { MAP_CONTROL } from '../../src/dsl/constants.ts';
import { DynamicOut, DynamicOutput, job, op, type JobDefinition } from '../../src/index.ts';
import type { RunProgress } from '../../src/workflows/progress.ts';
import { TemporalHarness } from './harness.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Which keys of an op started when, and how many run now. */
class Ledger {
  readonly starts: { key: string; at: number }[] = [];
  running = 0;
  peak = 0;

  /** An op doubling its input after `ms`, recording each start. */
  op(name: string, ms = 1_000) {
    return op({ name }, async (ctx, x: number) => {
      this.starts.push({ key: ctx.getMappingKey() ?? '', at: Date.now() });
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      await sleep(ms);
      this.running--;
      return x * 2;
    });
  }
}

function fanOut(name: string, count: number) {
  return op({ name, out: new DynamicOut<number>() }, async function* () {
    for (let i = 0; i < count; i++) yield new DynamicOutput(i, `k${i}`);
  });
}

const sum = op({ name: 'ctl_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
/** Σ 2i for i < n. */
const doubled = (n: number) => n * (n - 1);

const KEYS = 40;
const ledgers = { child: new Ledger(), activity: new Ledger(), batch: new Ledger(), sharded: new Ledger(), nested: new Ledger() };

const childJob = job({ name: 'ctl_child' }, () => {
  sum(fanOut('ctl_child_keys', KEYS)().map(ledgers.child.op('ctl_child_work'), { maxConcurrency: 4 }).collect());
});
const activityJob = job({ name: 'ctl_activity' }, () => {
  sum(fanOut('ctl_activity_keys', KEYS)().map(ledgers.activity.op('ctl_activity_work'), { mode: 'activity', maxConcurrency: 4 }).collect());
});
const batchJob = job({ name: 'ctl_batch' }, () => {
  sum(
    fanOut('ctl_batch_keys', KEYS)().map(ledgers.batch.op('ctl_batch_work'), { mode: 'batch', batchSize: 2, maxConcurrency: 4 }).collect(),
  );
});
const shardedJob = job({ name: 'ctl_sharded' }, () => {
  sum(
    fanOut('ctl_sharded_keys', 60)()
      .map(ledgers.sharded.op('ctl_sharded_work'), { mode: 'activity', shardSize: 20, maxConcurrency: 6 })
      .collect(),
  );
});

const outerKeys = fanOut('ctl_outer', 2);
const innerKeys = op({ name: 'ctl_inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  for (let j = 0; j < 12; j++) yield new DynamicOutput(x * 100 + j, `j${j}`);
});
const nestedJob = job({ name: 'ctl_nested' }, () => {
  const perOuter = outerKeys().map((x) =>
    sum.alias('ctl_inner_sum')(innerKeys(x).map(ledgers.nested.op('ctl_nested_work'), { mode: 'activity', maxConcurrency: 3 }).collect()),
  );
  sum(perOuter.collect());
});

const refusalLedger = new Ledger();
const firstKeys = fanOut('ctl_ref_first', 2);
const secondKeys = op({ name: 'ctl_ref_second', out: new DynamicOut<number>() }, async function* (_ctx, xs: number[]) {
  for (let i = 0; i < 6 + xs.length; i++) yield new DynamicOutput(i, `s${i}`);
});
const inBatch = op({ name: 'ctl_ref_in_batch', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  yield new DynamicOutput(x, 'only');
});
const refusalJob = job({ name: 'ctl_refusals' }, () => {
  const first = firstKeys().map(op({ name: 'ctl_ref_fast' }, async (_ctx, x: number) => x));
  sum(secondKeys(first.collect()).map(refusalLedger.op('ctl_ref_slow', 1_500), { mode: 'activity', maxConcurrency: 2 }).collect());
  sum.alias('ctl_ref_batched_sum')(
    fanOut('ctl_ref_batch_keys', 2)()
      .map(
        (x) =>
          sum.alias('ctl_ref_inner_sum')(
            inBatch(x)
              .map(op({ name: 'ctl_ref_inc' }, async (_ctx, v: number) => v + 1))
              .collect(),
          ),
        {
          mode: 'batch',
        },
      )
      .collect(),
  );
});

type Pending = 'activities' | 'children';

async function pending(handle: WorkflowHandle, kind: Pending): Promise<number> {
  const raw = (await handle.describe()).raw;
  return (kind === 'activities' ? raw.pendingActivities : raw.pendingChildren)?.length ?? 0;
}

/** Most of `observe()` over `ms`, sampled. */
async function peakOver(ms: number, observe: () => number | Promise<number>): Promise<number> {
  let peak = 0;
  const until = Date.now() + ms;
  while (Date.now() < until) {
    peak = Math.max(peak, await observe());
    await sleep(150);
  }
  return peak;
}

interface Scenario {
  job: JobDefinition;
  map: string;
  dimension: string;
  ledger: Ledger;
  keys: number;
  /** What counts as "in flight": pending activities or children of the job workflow, or the ledger's running ops. */
  observe: (handle: WorkflowHandle) => Promise<number>;
  /** Windows: as planned, resized down, resized up — in the units `observe` counts. */
  windows: { planned: number; down: number; up: number };
  /** What the pause reports besides the state (keys in flight and waiting, workflows told). */
  paused: Partial<MapControlReport>;
  /** The UI's current details while paused. */
  details: RegExp;
}

/** Observed figures, printed at the end for the report. */
const figures: string[] = [];

describe('pause / resume / resize a running map', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => {
    console.log(figures.join('\n'));
    await harness?.close();
  });

  /**
   * Starts the run, sees the planned window filled, pauses (keys in flight finish, then nothing
   * starts for 3 s and nothing is pending), resizes down while paused and resumes (never more than
   * the smaller window), resizes up (the larger window fills), and checks the result.
   */
  async function controlled(s: Scenario): Promise<void> {
    await harness.withWorker([s.job], async (taskQueue) => {
      const run = await launchRun(harness.client, s.job, { taskQueue });
      const handle = run.handle;
      const observe = () => s.observe(handle);
      await waitFor(`the planned window of ${s.windows.planned}`, async () => (await observe()) === s.windows.planned);

      const paused = await pauseMap(harness.client, run.workflowId, s.map);
      expect(paused).toMatchObject({ map: s.map, dimension: s.dimension, action: 'pause', paused: true, wasPaused: false, ...s.paused });
      // Keys the job runs itself are counted; a sharded map's run in its shards.
      if (!('inFlight' in s.paused)) expect([paused.inFlight, paused.waiting]).toEqual([undefined, undefined]);
      await waitFor('keys in flight to finish', async () => s.ledger.running === 0 && (await observe()) === 0);
      const startsBefore = s.ledger.starts.length;
      const heldPeak = await peakOver(3_000, async () => Math.max(s.ledger.running, await observe()));
      expect(heldPeak).toBe(0);
      expect(s.ledger.starts.length).toBe(startsBefore);
      expect(startsBefore).toBeLessThan(s.keys);
      const progress = await handle.query<RunProgress>('progress');
      expect(progress.controls?.[s.dimension]).toMatchObject({ paused: true });
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toMatch(s.details);
      figures.push(
        `${s.job.name}: paused with ${paused.inFlight ?? '?'} in flight, ${paused.waiting ?? '?'} waiting; held 3 s with 0 starts, 0 pending`,
      );

      const down = await resizeMap(harness.client, run.workflowId, s.map, s.windows.down);
      expect(down).toMatchObject({ paused: true, maxConcurrency: s.windows.down });
      const resumed = await resumeMap(harness.client, run.workflowId, s.map);
      expect(resumed).toMatchObject({ paused: false, wasPaused: true, maxConcurrency: s.windows.down });
      const downPeak = await peakOver(3_500, observe);
      expect(downPeak).toBeGreaterThan(0);
      expect(downPeak).toBeLessThanOrEqual(s.windows.down);

      const up = await resizeMap(harness.client, run.workflowId, s.map, s.windows.up);
      expect(up).toMatchObject({ paused: false, maxConcurrency: s.windows.up, previousMaxConcurrency: s.windows.down });
      let upPeak = 0;
      await waitFor(`the larger window of ${s.windows.up}`, async () => {
        upPeak = Math.max(upPeak, await observe());
        return upPeak >= s.windows.up;
      });
      const result = await awaitRun(run);
      expect(result.success).toBe(true);
      expect(await result.outputFor('ctl_sum')).toBe(doubled(s.keys));
      expect(new Set(s.ledger.starts.map((st) => st.key)).size).toBe(s.keys);
      figures.push(
        `${s.job.name}: window ${s.windows.planned} → pause (0 for 3 s) → ${s.windows.down} (peak ${downPeak}) → ${s.windows.up} (reached ${upPeak})`,
      );
    });
  }

  it('child mode: pause holds new children back, resize changes pending children', { timeout: 240_000 }, async () => {
    await controlled({
      job: childJob,
      map: 'ctl_child_keys',
      dimension: 'ctl_child_keys:result',
      ledger: ledgers.child,
      keys: KEYS,
      observe: (h) => pending(h, 'children'),
      windows: { planned: 4, down: 2, up: 6 },
      paused: { inFlight: 4, waiting: expect.any(Number) as number, forwarded: 0 },
      details: /- `ctl_child_keys`: paused \(\d+ in flight, \d+ waiting\)/,
    });
  });

  it('activity mode: pause holds new activities back, resize changes pending activities', { timeout: 240_000 }, async () => {
    await controlled({
      job: activityJob,
      map: 'ctl_activity_keys',
      dimension: 'ctl_activity_keys:result',
      ledger: ledgers.activity,
      keys: KEYS,
      observe: (h) => pending(h, 'activities'),
      windows: { planned: 4, down: 2, up: 6 },
      paused: { inFlight: 4, waiting: expect.any(Number) as number, forwarded: 0 },
      details: /- `ctl_activity_keys`: paused \(0 in flight, \d+ waiting\)/,
    });
  });

  it('batch mode: the window of batches pauses and resizes', { timeout: 240_000 }, async () => {
    await controlled({
      job: batchJob,
      map: 'ctl_batch_keys',
      dimension: 'ctl_batch_keys:result',
      ledger: ledgers.batch,
      keys: KEYS,
      observe: (h) => pending(h, 'activities'),
      windows: { planned: 4, down: 2, up: 6 },
      paused: { inFlight: 8, waiting: expect.any(Number) as number, forwarded: 0 },
      details: /- `ctl_batch_keys`: paused \(0 in flight, \d+ waiting\)/,
    });
  });

  it('a sharded map: the job forwards to its shards, which split a resized window', { timeout: 240_000 }, async () => {
    await controlled({
      job: shardedJob,
      map: 'ctl_sharded_keys',
      dimension: 'ctl_sharded_keys:result',
      ledger: ledgers.sharded,
      keys: 60,
      // Keys run in the shard workflows: count the ops running (two shards in flight, each half the window).
      observe: async () => ledgers.sharded.running,
      windows: { planned: 6, down: 2, up: 8 },
      paused: { forwarded: 2 },
      details: /- `ctl_sharded_keys`: paused(\n|$)/,
    });
  });

  it('a map nested in child workflows obeys: the job forwards to the children running it', { timeout: 240_000 }, async () => {
    const ledger = ledgers.nested;
    await harness.withWorker([nestedJob], async (taskQueue) => {
      const run = await launchRun(harness.client, nestedJob, { taskQueue });
      await waitFor('both children running inner keys', () => ledger.running === 6);
      const paused = await pauseMap(harness.client, run.workflowId, 'ctl_inner');
      expect(paused).toMatchObject({ map: 'ctl_inner', dimension: 'ctl_inner:result', paused: true, forwarded: 2 });
      expect(paused.inFlight).toBeUndefined();
      await waitFor('inner keys in flight to finish', () => ledger.running === 0);
      const startsBefore = ledger.starts.length;
      expect(await peakOver(3_000, () => ledger.running)).toBe(0);
      expect(ledger.starts.length).toBe(startsBefore);
      expect(startsBefore).toBeLessThan(24);
      figures.push(`ctl_nested: paused in 2 children after ${startsBefore} of 24 inner starts; held 3 s with 0 starts`);

      // Each child shows the control in its own progress.
      const child = harness.client.workflow.getHandle(`${run.workflowId}/ctl_outer[k0]`);
      expect((await child.query<RunProgress>('progress')).controls?.['ctl_inner:result']).toMatchObject({ paused: true, planned: 3 });
      const jobProgress = await run.handle.query<RunProgress>('progress');
      expect(jobProgress.controls?.['ctl_inner:result']).toEqual({ paused: true, maxConcurrency: 3, planned: 3 });

      await resizeMap(harness.client, run.workflowId, 'ctl_inner', 1);
      await resumeMap(harness.client, run.workflowId, 'ctl_inner');
      const peak = await peakOver(3_000, () => ledger.running);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(2);
      await resizeMap(harness.client, run.workflowId, 'ctl_inner', 6);
      const result = await awaitRun(run);
      expect(result.success).toBe(true);
      expect(await result.outputFor('ctl_sum')).toBe(2 * (12 * 0 + 66) + 2 * (12 * 100 + 66));
      figures.push(`ctl_nested: resized to 1 per child → peak ${peak} over 2 children`);
    });
  });

  it('refuses unknown maps, bad windows, finished maps and maps inside batches, saying what there is', { timeout: 240_000 }, async () => {
    await harness.withWorker([refusalJob], async (taskQueue) => {
      const run = await launchRun(harness.client, refusalJob, { taskQueue });
      await waitFor('the second map running', () => refusalLedger.running > 0);
      const id = run.workflowId;

      const unknown = await pauseMap(harness.client, id, 'nope').catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(MapControlError);
      expect((unknown as MapControlError).refused).toBe(true);
      expect((unknown as Error).message).toBe(
        `cannot pause map "nope" of ${id}: job "ctl_refusals" has no map "nope"; its maps: ctl_ref_first, ctl_ref_second, ctl_ref_batch_keys, ctl_ref_in_batch (in ctl_ref_batch_keys)`,
      );

      const finished = await pauseMap(harness.client, id, 'ctl_ref_first').catch((e: unknown) => e);
      expect((finished as Error).message).toContain(
        'map "ctl_ref_first" has finished: there is nothing left to pause; maps still to run or running: ctl_ref_second',
      );

      const inside = await resizeMap(harness.client, id, 'ctl_ref_in_batch', 3).catch((e: unknown) => e);
      expect((inside as Error).message).toContain(
        `map "ctl_ref_in_batch" runs inside the batch activities of map "ctl_ref_batch_keys" (mode 'batch'), where its window is fixed`,
      );

      // The client checks a window itself; the run's validator checks whatever arrives.
      const zero = await resizeMap(harness.client, id, 'ctl_ref_second', 0).catch((e: unknown) => e);
      expect((zero as Error).message).toBe(
        `cannot resize map "ctl_ref_second" of ${id}: maxConcurrency must be a whole number from 1 to 1000 (a map's window is a share of its workflow's budget); got 0`,
      );
      for (const bad of [0, 1001, 2.5, 'ten', undefined]) {
        const raw = await run.handle
          .executeUpdate(MAP_CONTROL.resize, { args: [{ map: 'ctl_ref_second', maxConcurrency: bad }] })
          .catch((e: unknown) => e);
        expect((raw as { cause?: Error }).cause?.message).toContain('maxConcurrency must be a whole number from 1 to 1000');
      }
      const noMap = await run.handle.executeUpdate(MAP_CONTROL.pause, { args: [{}] }).catch((e: unknown) => e);
      expect((noMap as { cause?: Error }).cause?.message).toBe('a pause request needs { map: "<map name>" }; got {}');

      // Refused requests leave no trace in the history; the run goes on untouched.
      const history = await run.handle.fetchHistory();
      expect(history.events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
      const result = await awaitRun(run);
      expect(result.success).toBe(true);

      const closed = await pauseMap(harness.client, id, 'ctl_ref_second').catch((e: unknown) => e);
      expect(closed).toBeInstanceOf(MapControlError);
      expect((closed as MapControlError).refused).toBe(false);
      expect((closed as Error).message).toBe(`cannot pause map "ctl_ref_second": run ${id} is not running (status COMPLETED)`);
    });
  });
});
