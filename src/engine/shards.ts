/** The parent's side of shards: a dimension too large for its workflow's history runs in shard workflows over ranges of its keys. */
import { BUDGET, EVENTS } from '../dsl/limits.ts';
import type { DimensionOptions, JobPlan } from '../dsl/plan.ts';
import type { Binding, ShardResult, ShardWorkflowInput, StoredRef } from '../dsl/protocol.ts';
import type { DimensionRequest, ScopeEngine, ShardRequest } from './types.ts';
import { forEachWindowed, pauseGate } from './window.ts';
import { Lanes, settleShard, waitsHere } from './redrive.ts';
import { dimensionBytes } from './inputSize.ts';
import { jsonBytes } from './payload.ts';
import type { ResolvedRunConfig } from '../dsl/runConfig.ts';

/** How a dimension's keys run: here, or in shards over these ranges. */
export type ShardDecision = { sharded: false } | { sharded: true; ranges: { start: number; end: number }[] };

/** Shards of one dimension running at once; they split the dimension's window between them. */
const SHARDS_IN_FLIGHT = 2;

export interface ShardWork {
  runConfig: ResolvedRunConfig;
  items(start: number, end: number): ShardWorkflowInput['items'];
  bindings: Record<string, Binding>;
  priorParts(index: number): StoredRef[];
  priorNodes: string[];
  /** A redriven shard splitting into shards of its own: its earlier run's records, for each of them. */
  reusedParts?: StoredRef[];
  finished(index: number, result: ShardResult, keys: number): void;
}

/** Runs a dimension's shards, two at a time (so one's slowest keys don't idle the other's lanes), sharing the map's window. */
export async function runShards(
  engine: ScopeEngine,
  request: DimensionRequest,
  ranges: readonly { start: number; end: number }[],
  options: DimensionOptions,
  work: ShardWork,
): Promise<void> {
  const dimId = request.dim[request.dim.length - 1] ?? '';
  const window = options.maxConcurrency ?? BUDGET.defaultMapConcurrency;
  const concurrent = Math.min(SHARDS_IN_FLIGHT, ranges.length);
  const plan: JobPlan = {
    ...request.plan,
    dimensions: { ...request.plan.dimensions, [dimId]: { ...options, maxConcurrency: Math.max(1, Math.ceil(window / concurrent)) } },
  };
  const shardRequest: DimensionRequest = { ...request, plan };
  // Paused, no further shard starts (those in flight hold their own keys back); resizing splits the new window among the shards.
  const controls = engine.controls;
  const inFlight = controls ? pauseGate(controls, dimId, concurrent, (ready) => engine.waitUntil(ready)) : concurrent;
  const waiting: Promise<void>[] = [];
  const redriveLanes = new Lanes(
    () => concurrent,
    (ready) => engine.waitUntil(ready),
  );
  await forEachWindowed(ranges, inFlight, async ({ start, end }, index) => {
    const shard: ShardRequest = {
      start,
      end,
      items: work.items(start, end),
      bindings: work.bindings,
      priorParts: work.priorParts(index),
      priorNodes: work.priorNodes,
      index,
      sharing: concurrent,
      ...(work.reusedParts ? { reusedParts: work.reusedParts } : {}),
    };
    const bytes = dimensionBytes(plan, work.runConfig) + jsonBytes(shard.items) + jsonBytes(shard.bindings) + jsonBytes(shard.priorParts);
    const run = (again: ShardRequest) => engine.budget.run('child', () => engine.runShard(shardRequest, again), bytes);
    const first = await run(shard);
    if (!waitsHere(engine, request, options, () => first.failures.some((f) => !f.tolerated), false)) {
      work.finished(index, first, end - start);
      return;
    }
    // onStepFailure 'wait': the shard's failed keys wait (outside the window, so other shards go on); a redrive runs
    // the shard again, taking over every record that did not fail.
    waiting.push(
      settleShard(engine, first, EVENTS.shard, (reusedParts, drive) => redriveLanes.run(() => run({ ...shard, reusedParts, drive }))).then(
        (result) => work.finished(index, result, end - start),
      ),
    );
  });
  await Promise.all(waiting);
}
