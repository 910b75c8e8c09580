/** The parent's side of shards: a dimension too large for its workflow's history runs in shard workflows over ranges of its keys. */
import { BUDGET } from '../dsl/limits.ts';
import type { DimensionOptions, JobPlan } from '../dsl/plan.ts';
import type { Binding, ShardResult, ShardWorkflowInput, StoredRef } from '../dsl/protocol.ts';
import type { DimensionRequest, ScopeEngine, ShardRequest } from './types.ts';
import { forEachWindowed, pauseGate } from './window.ts';
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
    };
    const bytes = dimensionBytes(plan, work.runConfig) + jsonBytes(shard.items) + jsonBytes(shard.bindings) + jsonBytes(shard.priorParts);
    const result = await engine.budget.run('child', () => engine.runShard(shardRequest, shard), bytes);
    work.finished(index, result, end - start);
  });
}
