/**
 * When a dimension's keys run in shard workflows, and how many keys each shard takes. Decided
 * from the workflow's projected history (its budget), across all its dimensions: several maps
 * that each fit alone but not together shard. Pure.
 */
import type { DimensionOptions, PlanNode } from '../dsl/plan.ts';
import { BUDGET, EVENTS, KEY_EVENT_ROOM, stepEvents } from '../dsl/limits.ts';

export { stepEvents };

/**
 * History events one key of a dimension costs the workflow that runs its keys: a child, its steps
 * as activities (with retries, and the least a nested map below costs), or its share of a batch.
 */
export function keyEvents(options: DimensionOptions, ownNodes: readonly PlanNode[], nestedDimensions: number): number {
  switch (options.mode ?? 'child') {
    case 'child':
      return EVENTS.child;
    case 'activity':
      return ownNodes.reduce((sum, n) => sum + stepEvents(n), 0) + nestedDimensions * EVENTS.shard;
    case 'batch':
      return EVENTS.activity / (options.batchSize ?? BUDGET.defaultBatchSize);
  }
}

/** Most keys one shard workflow can run so that its own history stays within the budget. */
export function keysPerShard(options: DimensionOptions, perKey: number, historyEvents: number = BUDGET.historyEvents): number {
  // Room for the shard's own overhead: its start, the slice it loads, the records it stores.
  const room = KEY_EVENT_ROOM - (BUDGET.historyEvents - historyEvents);
  const fits = Math.max(1, Math.floor(room / Math.max(perKey, 1e-9)));
  return Math.max(1, Math.min(options.shardSize ?? Number.POSITIVE_INFINITY, fits, legacyShardSize(options, 1)));
}

/**
 * Keys per shard as decided before the workflow budget (kept so that histories recorded then
 * replay with the same shards): 500 children, ~1,000 activity steps, or 500 batches per shard.
 */
export function legacyShardSize(options: DimensionOptions, stepsPerKey: number): number {
  if (options.shardSize) return options.shardSize;
  switch (options.mode ?? 'child') {
    case 'child':
      return 500;
    case 'activity':
      return Math.max(50, Math.floor(1000 / Math.max(1, stepsPerKey)));
    case 'batch':
      return Math.min(5000, (options.batchSize ?? BUDGET.defaultBatchSize) * 500);
  }
}

/** Consecutive `[start, end)` ranges of at most `perShard` keys covering `count` keys. */
export function shardRanges(count: number, perShard: number): { start: number; end: number }[] {
  return Array.from({ length: Math.ceil(count / perShard) }, (_, i) => ({ start: i * perShard, end: Math.min(count, (i + 1) * perShard) }));
}

/**
 * Ranges for at most `maxShards` direct shards: when a dimension needs more shards than its
 * workflow's history can hold, each direct shard takes a wider range and splits it again below
 * (a tree of shards, so any number of keys fits).
 */
export function treeRanges(count: number, perShard: number, maxShards: number): { start: number; end: number }[] {
  const needed = Math.ceil(count / perShard);
  if (needed <= maxShards) return shardRanges(count, perShard);
  return shardRanges(count, Math.ceil(count / Math.max(1, maxShards)));
}

/** Patch id of the budget's changes to commands (admission waits, sharding decisions). */
export const WORKFLOW_BUDGET_PATCH = 'opgraph-workflow-budget';
