/** The jobs whose histories are committed under test/replay/histories, and how to run each. */
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import { dynamicFanoutOptionC, fanoutRunConfig } from '../../examples/fanout.ts';
import { chained, multiple, otherArg, returnDynamicJob } from '../../examples/guide-advanced.ts';
import { processDirectory } from '../../examples/process-directory.ts';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { pauseMap, resizeMap, resumeMap } from '../../src/client/control.ts';
import { redrive } from '../../src/client/redrive.ts';
import type { RunConfig } from '../../src/dsl/runConfig.ts';
import type { RunProgress } from '../../src/workflows/progress.ts';
import { z } from 'zod';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { DynamicOut, DynamicOutput, job, op, RetryPolicy, type JobDefinition } from '../../src/index.ts';

const keys = op({ name: 'replay_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 6; i++) yield new DynamicOutput(i, `k${i}`);
});
const flaky = op({ name: 'replay_flaky', retryPolicy: new RetryPolicy({ maxRetries: 1, delay: 0.2 }) }, async (ctx, x: number) => {
  if (x === 4) throw new Error('key 4 always fails');
  if (x === 2 && ctx.attempt === 1) throw new Error('key 2 fails once');
  return x * 3;
});
const total = op({ name: 'replay_total' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const triple = op({ name: 'replay_triple' }, async (_ctx, x: number) => x * 3);
const plusTotal = op({ name: 'replay_plus_total' }, async (_ctx, x: number, t: number) => x + t);

/** A failing job: one key fails after its retry, another succeeds on its retry (a durable timer). */
export const failingJob = job({ name: 'replay_failing' }, () => {
  total(keys().map(flaky).collect());
});

/** Stages, activity mode, batch mode and shards in one job. */
export const modesJob = job({ name: 'replay_modes' }, () => {
  const tripled = keys().map(triple, { mode: 'activity' });
  const sum = total.alias('stage_sum')(tripled.collect());
  total.alias('staged')(tripled.map((v) => plusTotal(v, sum)).collect());
  total.alias('batched')(
    keys()
      .map((x) => plusTotal(x, sum), { mode: 'batch', batchSize: 4 })
      .collect(),
  );
  total.alias('sharded')(
    keys()
      .map((x) => triple.alias('in_shard')(x), { shardSize: 4 })
      .collect(),
  );
});

/** Workflow budget: retried steps project so many events that 30 keys shard (before the budget they did not). */
const patient = op({ name: 'replay_patient', retryPolicy: new RetryPolicy({ maxRetries: 50, delay: 0.2 }) }, async (ctx, x: number) => {
  if (x === 3 && ctx.attempt === 1) throw new Error('key 3 fails once');
  return x + 1;
});
const manyKeys = op({ name: 'replay_many_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 30; i++) yield new DynamicOutput(i, `k${i}`);
});
export const budgetShardingJob = job({ name: 'replay_budget_sharding' }, () => {
  total(manyKeys().map(patient, { mode: 'activity' }).collect());
});

/** Payload budget: a 20 KB value every key of a 60-key map receives is stored once (batch inputs carry it once too). */
const bigShared = op({ name: 'replay_big_shared' }, async () => 'z'.repeat(20_000));
const measure = op({ name: 'replay_measure' }, async (_ctx, x: number, s: string) => x + s.length);
const sixtyKeys = op({ name: 'replay_sixty_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 60; i++) yield new DynamicOutput(i, `k${i}`);
});
export const payloadSharedJob = job({ name: 'replay_payload_shared' }, () => {
  const s = bigShared();
  total(
    sixtyKeys()
      .map((x) => measure(x, s), { mode: 'batch', batchSize: 20 })
      .collect(),
  );
  total.alias('per_child')(
    sixtyKeys()
      .map((x) => measure(x, s))
      .collect(),
  );
});

/** Store paths: a value over the store threshold, and a collect too large for one activity input (14 × 20 KB, stored in chunks). */
const bigValue = op({ name: 'replay_big_value' }, async () => 'b'.repeat(200_000));
const valueLength = op({ name: 'replay_value_length' }, async (_ctx, s: string) => s.length);
const midValue = op({ name: 'replay_mid_value' }, async (_ctx, x: number) => `${x}:${'m'.repeat(20_000)}`);
const lengths = op({ name: 'replay_lengths' }, async (_ctx, xs: string[]) => xs.map((x) => x.length));
const fourteenKeys = op({ name: 'replay_fourteen_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 14; i++) yield new DynamicOutput(i, `k${i}`);
});
export const storePathsJob = job({ name: 'replay_store_paths' }, () => {
  valueLength(bigValue());
  lengths(fourteenKeys().map(midValue, { mode: 'activity' }).collect());
});

/** Cancellation: slow keys, cancelled while they run. */
const slowKey = op({ name: 'replay_slow_key' }, async (ctx, x: number) => {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 30_000);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return x;
});
export const cancelledJob = job({ name: 'replay_cancelled' }, () => {
  total(keys().map(slowKey).collect());
  total.alias('activity_total')(keys().map(slowKey.alias('slow_inline'), { mode: 'activity' }).collect());
});

/** Two DynamicOuts of one op repeating mapping keys, both mapped: ids name the output (opgraph-output-in-ids). */
const twoWays = op(
  { name: 'replay_two_ways', out: { result: new DynamicOut<number>(), extra: new DynamicOut<number>() } },
  async function* () {
    for (let i = 0; i < 3; i++) {
      yield new DynamicOutput(i, { mappingKey: `k${i}`, outputName: 'result' });
      yield new DynamicOutput(i * 10, { mappingKey: `k${i}`, outputName: 'extra' });
    }
  },
);
export const outputIdsJob = job({ name: 'replay_output_ids' }, () => {
  const { result, extra } = twoWays();
  total(result.map(triple).collect());
  total.alias('extra_total')(extra.map(triple.alias('extra_triple')).collect());
  total.alias('extra_batched')(extra.map(triple.alias('extra_batch_triple'), { mode: 'batch', batchSize: 2 }).collect());
});

/**
 * A nested map whose inner chained map is split by a barrier on the OUTER dimension: the inner
 * map's second op also takes a collect of the outer map. The outer keys' second stage continues the
 * inner map, so it needs the first stage's deeper records (opgraph-nested-stage-prior; before it,
 * those inner steps were abandoned). `innerKeys` large enough makes a child's result spill its
 * deeper records into stored parts; the shard sizes force shards at either level.
 */
export interface NestedStageOptions {
  readonly innerKeys: number;
  readonly outerMode?: FanOutMode;
  readonly innerMode?: FanOutMode;
  readonly outerShardSize?: number;
  readonly innerShardSize?: number;
}
const nestOuter = op({ name: 'nest_outer', out: new DynamicOut<number>() }, async function* () {
  for (const [key, value] of [
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ] as const)
    yield new DynamicOutput(value, key);
});
const nestInner = op(
  { name: 'nest_inner', out: new DynamicOut<number>(), config: z.object({ keys: z.number().int().min(0) }) },
  async function* (ctx, v: number) {
    for (let j = 0; j < ctx.opConfig.keys; j++) yield new DynamicOutput(v * 1000 + j, `j${j}`);
  },
);
const nestTen = op({ name: 'nest_ten' }, async (_ctx, x: number) => x * 10);
const nestInc = op({ name: 'nest_inc' }, async (_ctx, x: number) => x + 1);
const nestAdd = op({ name: 'nest_add' }, async (_ctx, x: number, t: number) => x + t);
const nestSum = op({ name: 'nest_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));

export function nestedStageJob(name: string, options: NestedStageOptions): JobDefinition {
  const map = (mode?: FanOutMode, shardSize?: number) => ({ ...(mode ? { mode } : {}), ...(shardSize ? { shardSize } : {}) });
  return job({ name }, () => {
    const outer = nestOuter();
    const sum = nestSum.alias('tens_sum')(outer.map(nestTen, map(options.outerMode, options.outerShardSize)).collect());
    const perKey = outer.map(
      (v) => {
        const incremented = nestInner(v).map(nestInc, map(options.innerMode, options.innerShardSize));
        return nestSum.alias('inner_sum')(
          incremented.map((x) => nestAdd(x, sum), map(options.innerMode, options.innerShardSize)).collect(),
        );
      },
      map(options.outerMode, options.outerShardSize),
    );
    nestSum.alias('grand_sum')(perKey.collect());
  });
}

/** What nestedStageJob computes: per outer key v (1, 2, 3), Σ_j (1000·v + j + 1 + 60). */
export function nestedStageExpected(innerKeys: number): { inner: Map<string, number>; grand: number } {
  const inner = new Map<string, number>();
  for (const [key, v] of [
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ] as const) {
    let total = 0;
    for (let j = 0; j < innerKeys; j++) total += v * 1000 + j + 1 + 60;
    inner.set(key, total);
  }
  return { inner, grand: [...inner.values()].reduce((a, b) => a + b, 0) };
}

export const nestedStageConfig = (innerKeys: number): RunConfig => ({ ops: { nest_inner: { config: { keys: innerKeys } } } });

/**
 * Live map control (pause / resume / resize): an activity-mode map (its lanes wait, then grow), a map
 * nested in child workflows (the job forwards signals to the children) and a sharded map (shards in
 * flight are signalled a split window; a shard started later carries the state in its input).
 */
const pacedKeys = op({ name: 'replay_paced_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 12; i++) yield new DynamicOutput(i, `k${i}`);
});
const paced = op({ name: 'replay_paced' }, async (_ctx, x: number) => {
  await new Promise((resolve) => setTimeout(resolve, 700));
  return x * 3;
});
const pacedOuter = op({ name: 'replay_paced_outer', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 2; i++) yield new DynamicOutput(i, `o${i}`);
});
const pacedInner = op({ name: 'replay_paced_inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  for (let j = 0; j < 5; j++) yield new DynamicOutput(x * 10 + j, `i${j}`);
});
const shardedKeys = op({ name: 'replay_paced_shard_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 12; i++) yield new DynamicOutput(i, `s${i}`);
});
export const controlledJob = job({ name: 'replay_controlled' }, () => {
  total(pacedKeys().map(paced, { mode: 'activity', maxConcurrency: 3 }).collect());
  total.alias('nested_total')(
    pacedOuter()
      .map((x) =>
        total.alias('inner_total')(pacedInner(x).map(paced.alias('inner_paced'), { mode: 'activity', maxConcurrency: 2 }).collect()),
      )
      .collect(),
  );
  total.alias('sharded_total')(
    shardedKeys().map(paced.alias('shard_paced'), { mode: 'activity', shardSize: 4, maxConcurrency: 4 }).collect(),
  );
});

/** While `controlledJob` runs: pause all three maps, resize them down, resume, then resize one up. */
async function controlMaps(handle: WorkflowHandle, client: Client): Promise<void> {
  const id = handle.workflowId;
  for (const until = Date.now() + 60_000; Date.now() < until;) {
    const progress = await handle.query<RunProgress>('progress').catch(() => undefined);
    if ((progress?.dimensions['replay_paced_outer:result']?.running ?? 0) === 2 && (progress?.nodes.replay_paced?.running ?? 0) > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const maps = ['replay_paced_keys', 'replay_paced_inner', 'replay_paced_shard_keys'];
  for (const map of maps) await pauseMap(client, id, map);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  for (const map of maps) await resizeMap(client, id, map, 1);
  for (const map of maps) await resumeMap(client, id, map);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await resizeMap(client, id, 'replay_paced_keys', 4);
}

/** Ids over 255 characters (200-character keys, nested): shortened with a hash (opgraph-bounded-ids). */
const longOuter = op({ name: 'replay_long_outer', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a'.repeat(200));
  yield new DynamicOutput(2, 'b'.repeat(200));
});
const longInner = op({ name: 'replay_long_inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  yield new DynamicOutput(x * 10, 'c'.repeat(200));
});
export const longIdsJob = job({ name: 'replay_long_ids' }, () => {
  total(keys().map(triple).collect());
  total.alias('long_total')(
    longOuter()
      .map((x) => total.alias('long_inner_total')(longInner(x).map(triple.alias('long_triple')).collect()))
      .collect(),
  );
});

/** Redrive in place: keys r1 and r4 fail in every mode until fixed, then a static step fails once; all are redriven. */
const flags = { fixed: false, staticFixed: false };
const redriveKeys = op({ name: 'replay_redrive_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 6; i++) yield new DynamicOutput(i, `r${i}`);
});
const redriveFlaky = op({ name: 'replay_redrive_flaky' }, async (ctx, x: number) => {
  if (!flags.fixed && ['r1', 'r4'].includes(ctx.mappingKeys[ctx.mappingKeys.length - 1] ?? '')) throw new Error(`not yet: ${ctx.stepKey}`);
  return x;
});
const flakyStatic = op({ name: 'replay_flaky_static' }, async (_ctx, xs: number[]) => {
  if (!flags.staticFixed) throw new Error('not yet');
  return xs.reduce((a, b) => a + b, 0);
});
function redrivenJob(name: string, redriveTimeout?: string): JobDefinition {
  return job({ name, onStepFailure: 'wait', ...(redriveTimeout ? { redriveTimeout } : {}) }, () => {
    const totals = (['child', 'activity', 'batch'] as const).map((mode) =>
      total.alias(`${mode}_total`)(
        redriveKeys
          .alias(`${mode}_keys`)()
          .map(redriveFlaky.alias(`${mode}_flaky`), mode === 'batch' ? { mode, batchSize: 2 } : { mode })
          .collect(),
      ),
    );
    const sharded = total.alias('sharded_total')(
      redriveKeys.alias('sharded_keys')().map(redriveFlaky.alias('sharded_flaky'), { mode: 'activity', shardSize: 3 }).collect(),
    );
    flakyStatic([...totals, sharded]);
  });
}

async function progressUntil(handle: WorkflowHandle, ready: (p: RunProgress) => boolean): Promise<void> {
  for (const until = Date.now() + 60_000; Date.now() < until;) {
    const progress = await handle.query<RunProgress>('progress').catch(() => undefined);
    if (progress && ready(progress)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${handle.workflowId}: timed out waiting for failed steps to wait`);
}

/** While `redrivenJob` runs: once the 8 failed keys wait, fix them and redrive all; then redrive the static step by name. */
async function redriveAll(handle: WorkflowHandle, client: Client): Promise<void> {
  flags.fixed = false;
  flags.staticFixed = false;
  await progressUntil(handle, (p) => p.waiting?.steps === 8);
  flags.fixed = true;
  await redrive(client, handle.workflowId);
  await progressUntil(handle, (p) => p.waiting?.stepKeys[0] === 'replay_flaky_static');
  flags.staticFixed = true;
  await redrive(client, handle.workflowId, { stepKeys: ['replay_flaky_static'] });
}

/** A nested map inside an inline outer key: the failed inner key fails its outer key, which waits as a whole. */
const nestedRedriveOuter = op({ name: 'replay_redrive_outer', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 3; i++) yield new DynamicOutput(i, `o${i}`);
});
const nestedRedriveInner = op({ name: 'replay_redrive_inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  for (let j = 0; j < 2; j++) yield new DynamicOutput(x * 10 + j, `r${j * 3 + x}`);
});
const nestedRedrivenJob = job({ name: 'replay_redriven_nested', onStepFailure: 'wait' }, () => {
  total.alias('nested_outer_total')(
    nestedRedriveOuter()
      .map(
        (x) =>
          total.alias('nested_inner_total')(nestedRedriveInner(x).map(redriveFlaky.alias('nested_flaky'), { mode: 'child' }).collect()),
        { mode: 'activity' },
      )
      .collect(),
  );
  total.alias('inline_total')(
    redriveKeys.alias('inline_keys')().map(redriveFlaky.alias('inline_flaky'), { mode: 'activity', maxConcurrency: 2 }).collect(),
  );
});

/** While `nestedRedrivenJob` runs: once its 4 failed steps wait (2 nested, 2 inline), fix and redrive them. */
async function redriveNested(handle: WorkflowHandle, client: Client): Promise<void> {
  flags.fixed = false;
  await progressUntil(handle, (p) => p.waiting?.steps === 4);
  flags.fixed = true;
  await redrive(client, handle.workflowId);
}

/** Tolerated failures: r1 and r4 fail for good in every mode and a sharded map; one map tolerates 1 key only (over it). */
const toleratedJob = job({ name: 'replay_tolerated' }, () => {
  for (const mode of ['child', 'activity', 'batch'] as const) {
    total.alias(`tol_${mode}_total`)(
      redriveKeys
        .alias(`tol_${mode}_keys`)()
        .map(redriveFlaky.alias(`tol_${mode}_flaky`), {
          mode,
          toleratedFailures: { count: 2 },
          ...(mode === 'batch' ? { batchSize: 2 } : {}),
        })
        .collect(),
    );
  }
  total.alias('tol_sharded_total')(
    redriveKeys
      .alias('tol_sharded_keys')()
      .map(redriveFlaky.alias('tol_sharded_flaky'), { mode: 'activity', shardSize: 3, toleratedFailures: { ratio: 0.5 } })
      .collect(),
  );
  total.alias('tol_over_total')(
    redriveKeys
      .alias('tol_over_keys')()
      .map(redriveFlaky.alias('tol_over_flaky'), { toleratedFailures: { count: 1 } })
      .collect(),
  );
});

/** The same job left waiting: its redriveTimeout gives up. */
async function leaveWaiting(): Promise<void> {
  flags.fixed = false;
  flags.staticFixed = false;
}

export interface ReplayCase {
  readonly name: string;
  readonly job: JobDefinition;
  readonly runConfig?: RunConfig;
  /** Started by job name alone (the plan is resolved by a recorded activity), as from the Temporal CLI or Web UI. */
  readonly byName?: boolean;
  /** Cancelled this long after it starts. */
  readonly cancelAfterMs?: number;
  /** Save every child's history, not only the first two per level (small jobs). */
  readonly allChildren?: boolean;
  /** Record a re-execution of the run instead (src/client/reexecute.ts): from failure and/or of these step keys. */
  readonly reexecute?: { readonly fromFailure?: boolean; readonly stepKeys?: readonly string[] };
  /** Called once the run started, before waiting for its end: to send it updates mid-run. */
  readonly onStarted?: (handle: WorkflowHandle, client: Client) => Promise<void>;
}

export const replayCases: readonly ReplayCase[] = [
  { name: 'dynamic_graph', job: dynamicGraph },
  { name: 'return_dynamic_job', job: returnDynamicJob },
  { name: 'chained', job: chained },
  { name: 'other_arg', job: otherArg },
  { name: 'multiple', job: multiple },
  { name: 'process_directory', job: processDirectory },
  { name: 'fanout_option_c', job: dynamicFanoutOptionC, runConfig: fanoutRunConfig },
  { name: 'failing', job: failingJob },
  { name: 'modes', job: modesJob },
  { name: 'budget_sharding', job: budgetShardingJob },
  { name: 'payload_shared', job: payloadSharedJob },
  { name: 'store_paths', job: storePathsJob },
  { name: 'cancelled', job: cancelledJob, cancelAfterMs: 2_000, allChildren: true },
  { name: 'by_name', job: dynamicGraph, byName: true },
  { name: 'failing_all_children', job: failingJob, allChildren: true },
  { name: 'modes_all_children', job: modesJob, allChildren: true },
  { name: 'output_ids', job: outputIdsJob, allChildren: true },
  {
    name: 'nested_stage',
    job: nestedStageJob('replay_nested_stage', { innerKeys: 3 }),
    runConfig: nestedStageConfig(3),
    allChildren: true,
  },
  {
    name: 'nested_stage_activity',
    job: nestedStageJob('replay_nested_stage_activity', { innerKeys: 3, outerMode: 'activity', innerMode: 'activity' }),
    runConfig: nestedStageConfig(3),
  },
  {
    name: 'nested_stage_parts',
    job: nestedStageJob('replay_nested_stage_parts', { innerKeys: 120 }),
    runConfig: nestedStageConfig(120),
  },
  { name: 'long_ids', job: longIdsJob, allChildren: true },
  { name: 'failing_reexecuted', job: failingJob, reexecute: { fromFailure: true }, allChildren: true },
  {
    name: 'modes_reexecuted',
    job: modesJob,
    reexecute: { stepKeys: ['in_shard[k1]', 'replay_triple[k2]', 'replay_plus_total[k3]', 'batched'] },
    allChildren: true,
  },
  {
    name: 'nested_stage_shards',
    job: nestedStageJob('replay_nested_stage_shards', { innerKeys: 12, outerShardSize: 2, innerMode: 'activity', innerShardSize: 5 }),
    runConfig: nestedStageConfig(12),
  },
  { name: 'controlled', job: controlledJob, onStarted: controlMaps, allChildren: true },
  { name: 'redriven', job: redrivenJob('replay_redriven'), onStarted: redriveAll, allChildren: true },
  { name: 'redrive_timeout', job: redrivenJob('replay_redrive_timeout', '2s'), onStarted: leaveWaiting, allChildren: true },
  { name: 'redriven_nested', job: nestedRedrivenJob, onStarted: redriveNested, allChildren: true },
  { name: 'tolerated', job: toleratedJob, onStarted: leaveWaiting, allChildren: true },
];
