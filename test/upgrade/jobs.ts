/**
 * The upgrade drill's jobs: one per shape of run that must survive a worker upgrade mid-run.
 *
 * Both workers load this module — the baseline worker from a git worktree of test/upgrade/BASELINE (the drill
 * copies this file to the same path there), the new worker from the working tree — so it may use only the
 * public API that existed at the baseline: `op`, `job`, `Definitions`, `DynamicOut`, `DynamicOutput`,
 * `RetryPolicy` from the package root and `.map(fn, { mode, batchSize, maxConcurrency, shardSize })`.
 *
 * Ops sleep 0.5–3 s so that every run is genuinely mid-way when the baseline worker is SIGKILLed, and are
 * deterministic (the flaky ops fail on `ctx.attempt === 1` only), so each run's result is known exactly: `SHAPES`
 * names the node to read and the value it must have.
 */
import { Definitions, DynamicOut, DynamicOutput, job, op, RetryPolicy, type JobDefinition } from '../../src/index.ts';

/** Short heartbeat timeout: a step in flight on the killed worker is retried on the new one within seconds. */
const timeouts = { heartbeat: '2s' } as const;

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

// ─── seed: examples/dynamic-graph.ts, slowed down ─────────────────────────────────────────────
// load_pieces splits 0..39 into 8 chunks of 5; compute_piece doubles a chunk (1.5–3.1 s by key, so keys finish at
// different times; 3 keys at a time);
// merge_and_analyze adds the pieces elementwise, as the seed's numpy sum does.

const SEED_CHUNK = 5;
const SEED_DATA = range(40);

const seedLoadPieces = op({ name: 'drill_load_pieces', out: new DynamicOut<number[]>(), timeouts }, async function* (ctx) {
  await pause(1000, ctx.signal);
  for (let i = 0; i < SEED_DATA.length; i += SEED_CHUNK) {
    yield new DynamicOutput(SEED_DATA.slice(i, i + SEED_CHUNK), { mappingKey: String(i / SEED_CHUNK) });
  }
});
const seedComputePiece = op({ name: 'drill_compute_piece', timeouts }, async (ctx, piece: number[]) => {
  await pause(1500 + (Number(ctx.getMappingKey()) % 3) * 800, ctx.signal);
  return piece.map((x) => x * 2);
});
const seedMerge = op({ name: 'drill_merge_and_analyze', timeouts }, async (ctx, pieces: number[][]) => {
  await pause(500, ctx.signal);
  return pieces.reduce((acc, piece) => acc.map((x, i) => x + (piece[i] ?? 0)), new Array<number>(SEED_CHUNK).fill(0));
});
export const seedJob = job({ name: 'drill_seed' }, () => {
  seedMerge(seedLoadPieces().map(seedComputePiece, { maxConcurrency: 3 }).collect());
});
const seedExpected = range(SEED_CHUNK).map((i) => sum(SEED_DATA.filter((x) => x % SEED_CHUNK === i)) * 2);

// ─── shared little ops ────────────────────────────────────────────────────────────────────────

function keysOp(name: string, count: number, ms: number) {
  return op({ name, out: new DynamicOut<number>(), timeouts }, async function* (ctx) {
    await pause(ms, ctx.signal);
    for (let i = 1; i <= count; i++) yield new DynamicOutput(i, `k${i}`);
  });
}
const totalOf = op({ name: 'drill_total', timeouts }, async (ctx, xs: number[]) => {
  await pause(500, ctx.signal);
  return sum(xs);
});

// ─── nested fan-out: a map inside a map (grandchildren) ─────────────────────────────────────────
// 3 regions, one at a time; each yields 3 cities (region·10 + j), 2 at a time; population = 2·city.

const regions = keysOp('drill_regions', 3, 800);
const cities = op({ name: 'drill_cities', out: new DynamicOut<number>(), timeouts }, async function* (ctx, region: number) {
  await pause(800, ctx.signal);
  for (let j = 1; j <= 3; j++) yield new DynamicOutput(region * 10 + j, `c${j}`);
});
const population = op({ name: 'drill_population', timeouts }, async (ctx, city: number) => {
  await pause(1500, ctx.signal);
  return city * 2;
});
export const nestedJob = job({ name: 'drill_nested' }, () => {
  const perRegion = regions().map((r) => totalOf.alias('region_total')(cities(r).map(population, { maxConcurrency: 2 }).collect()), {
    maxConcurrency: 1,
  });
  totalOf.alias('grand_total')(perRegion.collect());
});
const nestedExpected = sum([1, 2, 3].flatMap((r) => [1, 2, 3].map((j) => (r * 10 + j) * 2)));

// ─── stages: a map that depends on a collect of its own dimension ─────────────────────────────
// squares of 1..6 (2 at a time), their sum s, then square + s per key, then the total.

const stageNumbers = keysOp('drill_stage_numbers', 6, 800);
const square = op({ name: 'drill_square', timeouts }, async (ctx, x: number) => {
  await pause(1500, ctx.signal);
  return x * x;
});
const plusSum = op({ name: 'drill_plus_sum', timeouts }, async (ctx, x: number, s: number) => {
  await pause(1500, ctx.signal);
  return x + s;
});
export const stagesJob = job({ name: 'drill_stages' }, () => {
  const squares = stageNumbers().map(square, { maxConcurrency: 2 });
  const s = totalOf.alias('sum_of_squares')(squares.collect());
  totalOf.alias('staged_total')(squares.map((x) => plusSum(x, s)).collect());
});
const squaresSum = sum([1, 2, 3, 4, 5, 6].map((x) => x * x));
const stagesExpected = sum([1, 2, 3, 4, 5, 6].map((x) => x * x + squaresSum));

// ─── sharded map: 9 keys in shards of 3, one key at a time per shard, two ops per key ─────────

const shardItems = keysOp('drill_shard_items', 9, 800);
const cube = op({ name: 'drill_cube', timeouts }, async (ctx, x: number) => {
  await pause(1200, ctx.signal);
  return x * x * x;
});
const addOne = op({ name: 'drill_add_one', timeouts }, async (ctx, x: number) => {
  await pause(1200, ctx.signal);
  return x + 1;
});
export const shardedJob = job({ name: 'drill_sharded' }, () => {
  totalOf.alias('sharded_total')(
    shardItems()
      .map((x) => addOne(cube(x)), { shardSize: 3, maxConcurrency: 1 })
      .collect(),
  );
});
const shardedExpected = sum(range(9).map((i) => (i + 1) ** 3 + 1));

// ─── activity mode: each key's two steps are activities of the job workflow ───────────────────

const activityKeys = keysOp('drill_activity_keys', 8, 800);
const triple = op({ name: 'drill_triple', timeouts }, async (ctx, x: number) => {
  await pause(1500, ctx.signal);
  return x * 3;
});
const minusTwo = op({ name: 'drill_minus_two', timeouts }, async (ctx, x: number) => {
  await pause(1500, ctx.signal);
  return x - 2;
});
export const activityJob = job({ name: 'drill_activity_mode' }, () => {
  totalOf.alias('activity_total')(
    activityKeys()
      .map((x) => minusTwo(triple(x)), { mode: 'activity', maxConcurrency: 2 })
      .collect(),
  );
});
const activityExpected = sum(range(8).map((i) => (i + 1) * 3 - 2));

// ─── batch mode: 12 keys, 3 per batch activity, one batch at a time ───────────────────────────

const batchKeys = keysOp('drill_batch_keys', 12, 800);
const negate = op({ name: 'drill_negate', timeouts }, async (ctx, x: number) => {
  await pause(1500, ctx.signal);
  return -x;
});
const timesTen = op({ name: 'drill_times_ten', timeouts }, async (ctx, x: number) => {
  await pause(1500, ctx.signal);
  return x * 10;
});
export const batchJob = job({ name: 'drill_batch_mode' }, () => {
  totalOf.alias('batch_total')(
    batchKeys()
      .map((x) => timesTen(negate(x)), { mode: 'batch', batchSize: 3, maxConcurrency: 1 })
      .collect(),
  );
});
const batchExpected = sum(range(12).map((i) => -(i + 1) * 10));

// ─── retry: a step fails once and retries after a 10 s durable timer (pending at the kill) ─────
// plus mapped keys that fail once with plus_minus jitter (the retry-delay formula is versioned).

export const RETRY_DELAY_S = 10;
const warmUp = op({ name: 'drill_warm_up', timeouts }, async (ctx) => {
  await pause(500, ctx.signal);
  return 7;
});
const flaky = op(
  { name: 'drill_flaky', timeouts, retryPolicy: new RetryPolicy({ maxRetries: 2, delay: RETRY_DELAY_S }) },
  async (ctx, x: number) => {
    await pause(300, ctx.signal);
    if (ctx.attempt === 1) throw new Error('drill_flaky fails on its first attempt');
    await pause(1000, ctx.signal);
    return x * 100;
  },
);
const retryKeys = keysOp('drill_retry_keys', 3, 500);
const flakyKey = op(
  { name: 'drill_flaky_key', timeouts, retryPolicy: new RetryPolicy({ maxRetries: 2, delay: 3, jitter: 'plus_minus' }) },
  async (ctx, x: number) => {
    await pause(1000, ctx.signal);
    if (ctx.attempt === 1) throw new Error(`drill_flaky_key fails on its first attempt (${ctx.stepKey})`);
    return x + 1000;
  },
);
const combine = op({ name: 'drill_combine', timeouts }, async (ctx, a: number, b: number) => {
  await pause(500, ctx.signal);
  return a + b;
});
export const retryJob = job({ name: 'drill_retry' }, () => {
  const viaTimer = flaky(warmUp());
  const keyed = totalOf.alias('keyed_total')(retryKeys().map(flakyKey).collect());
  combine(viaTimer, keyed);
});
const retryExpected = 7 * 100 + sum([1, 2, 3].map((x) => x + 1000));

// ─── a run waiting on a long op (running on the killed worker, re-run by the new one) ─────────

export const LONG_OP = 'drill_long_wait';
export const LONG_OP_MS = 20_000;
const begin = op({ name: 'drill_begin', timeouts }, async (ctx) => {
  await pause(500, ctx.signal);
  return 'started';
});
const longWait = op({ name: LONG_OP, timeouts }, async (ctx, before: string) => {
  await pause(LONG_OP_MS, ctx.signal);
  if (ctx.signal.aborted) throw new Error('drill_long_wait cancelled');
  return `${before}, waited`;
});
const after = op({ name: 'drill_after', timeouts }, async (ctx, s: string) => {
  await pause(300, ctx.signal);
  return `${s}, done`;
});
export const longJob = job({ name: 'drill_long_op' }, () => {
  after(longWait(begin()));
});

// ─── the shapes ─────────────────────────────────────────────────────────────────────────────

export interface DrillShape {
  /** Short label for the report. */
  shape: string;
  job: JobDefinition;
  /** The node whose output proves the run's result, and that output's exact value. */
  node: string;
  expected: unknown;
  /**
   * What must be pending in the job workflow at the kill: a durable timer (a retry delay) or a running op
   * (by activity type). Every shape must also have completed `minDone` activities somewhere in its tree.
   */
  pendingAtKill?: { timer: true } | { activityType: string };
  minDone: number;
}

export const SHAPES: readonly DrillShape[] = [
  { shape: 'seed (dynamic_graph)', job: seedJob, node: 'drill_merge_and_analyze', expected: seedExpected, minDone: 2 },
  { shape: 'nested fan-out', job: nestedJob, node: 'grand_total', expected: nestedExpected, minDone: 2 },
  { shape: 'stages', job: stagesJob, node: 'staged_total', expected: stagesExpected, minDone: 2 },
  { shape: 'sharded map', job: shardedJob, node: 'sharded_total', expected: shardedExpected, minDone: 2 },
  { shape: 'activity mode', job: activityJob, node: 'activity_total', expected: activityExpected, minDone: 2 },
  { shape: 'batch mode', job: batchJob, node: 'batch_total', expected: batchExpected, minDone: 2 },
  {
    shape: 'retry after a delay',
    job: retryJob,
    node: 'drill_combine',
    expected: retryExpected,
    minDone: 2,
    pendingAtKill: { timer: true },
  },
  {
    shape: 'long op',
    job: longJob,
    node: 'drill_after',
    expected: 'started, waited, done',
    minDone: 1,
    pendingAtKill: { activityType: LONG_OP },
  },
];

export const defs = new Definitions({ jobs: SHAPES.map((s) => s.job) });
