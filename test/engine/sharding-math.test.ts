/** src/engine/sharding.ts: projected events per step and per key, keys per shard, shard ranges. */
import { describe, expect, it } from 'vitest';
import { BUDGET, EVENTS } from '../../src/dsl/limits.ts';
import type { PlanNode } from '../../src/dsl/plan.ts';
import { keyEvents, keysPerShard, legacyShardSize, shardRanges, stepEvents, treeRanges } from '../../src/engine/sharding.ts';

function node(id: string, maxRetries?: number): PlanNode {
  return {
    id,
    op: id,
    inputs: [],
    outputs: [{ name: 'result', dynamic: false, required: true }],
    dim: ['d:result'],
    stages: [0],
    retryPolicy: maxRetries === undefined ? null : { maxRetries, delay: 0 },
    timeouts: { startToCloseMs: 1000, heartbeatMs: 1000 },
    tags: {},
  };
}

/** Ranges cover [0, count) in order, without gaps or overlaps. */
function expectCover(ranges: { start: number; end: number }[], count: number): void {
  let at = 0;
  for (const r of ranges) {
    expect(r.start).toBe(at);
    expect(r.end).toBeGreaterThan(r.start);
    at = r.end;
  }
  expect(at).toBe(count);
}

describe('stepEvents / keyEvents', () => {
  it('a step costs an activity plus a retry per allowed user retry', () => {
    expect(stepEvents(node('a'))).toBe(EVENTS.activity);
    expect(stepEvents(node('a', 0))).toBe(EVENTS.activity);
    expect(stepEvents(node('a', 3))).toBe(EVENTS.activity + 3 * EVENTS.retry);
  });

  it('a key costs a child (child mode), its steps and nested maps (activity), a share of a batch (batch)', () => {
    const own = [node('a'), node('b', 2)];
    expect(keyEvents({}, own, 0)).toBe(EVENTS.child);
    expect(keyEvents({ mode: 'child' }, own, 5)).toBe(EVENTS.child);
    expect(keyEvents({ mode: 'activity' }, own, 0)).toBe(2 * EVENTS.activity + 2 * EVENTS.retry);
    expect(keyEvents({ mode: 'activity' }, own, 2)).toBe(2 * EVENTS.activity + 2 * EVENTS.retry + 2 * EVENTS.shard);
    expect(keyEvents({ mode: 'batch', batchSize: 3 }, own, 0)).toBe(EVENTS.activity / 3);
    expect(keyEvents({ mode: 'batch' }, own, 0)).toBe(EVENTS.activity / BUDGET.defaultBatchSize);
  });
});

describe('keysPerShard', () => {
  it('fits the shard’s own history: room after its overhead, divided by the cost per key', () => {
    const room = BUDGET.historyEvents - EVENTS.workflowOverhead - 40 * EVENTS.activity;
    expect(keysPerShard({ mode: 'activity' }, 100)).toBe(Math.floor(room / 100));
    expect(keysPerShard({ mode: 'activity' }, 100, 2000)).toBe(Math.floor((2000 - EVENTS.workflowOverhead - 40 * EVENTS.activity) / 100));
  });

  it('never more than shardSize nor the legacy size, never less than one', () => {
    expect(keysPerShard({ mode: 'child' }, EVENTS.child)).toBe(500);
    expect(keysPerShard({ mode: 'child', shardSize: 7 }, EVENTS.child)).toBe(7);
    expect(keysPerShard({ mode: 'batch', batchSize: 10 }, EVENTS.activity / 10)).toBe(5000);
    expect(keysPerShard({ mode: 'activity' }, 1e9)).toBe(1);
    expect(keysPerShard({ mode: 'activity' }, 0)).toBe(1000);
    expect(keysPerShard({ mode: 'activity' }, 12, 100)).toBe(1);
  });
});

describe('legacyShardSize', () => {
  it('is the per-dimension rule from before the budget', () => {
    expect(legacyShardSize({}, 3)).toBe(500);
    expect(legacyShardSize({ mode: 'child' }, 1)).toBe(500);
    expect(legacyShardSize({ mode: 'activity' }, 1)).toBe(1000);
    expect(legacyShardSize({ mode: 'activity' }, 2)).toBe(500);
    expect(legacyShardSize({ mode: 'activity' }, 3)).toBe(333);
    expect(legacyShardSize({ mode: 'activity' }, 100)).toBe(50);
    expect(legacyShardSize({ mode: 'activity' }, 0)).toBe(1000);
    expect(legacyShardSize({ mode: 'batch' }, 1)).toBe(5000);
    expect(legacyShardSize({ mode: 'batch', batchSize: 4 }, 1)).toBe(2000);
    expect(legacyShardSize({ mode: 'batch', shardSize: 9 }, 1)).toBe(9);
  });
});

describe('shardRanges / treeRanges', () => {
  it('shardRanges: consecutive ranges of at most perShard keys', () => {
    expect(shardRanges(10, 4)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(shardRanges(8, 4)).toHaveLength(2);
    expect(shardRanges(0, 4)).toEqual([]);
  });

  it('treeRanges: plain ranges when they fit the number of shards allowed', () => {
    expect(treeRanges(20, 5, 4)).toEqual(shardRanges(20, 5));
    expect(treeRanges(20, 5, 100)).toEqual(shardRanges(20, 5));
  });

  it('treeRanges: at most maxShards wider ranges otherwise, covering every key', () => {
    expect(treeRanges(20, 5, 2)).toEqual([
      { start: 0, end: 10 },
      { start: 10, end: 20 },
    ]);
    expect(treeRanges(20, 5, 1)).toEqual([{ start: 0, end: 20 }]);
    expect(treeRanges(20, 5, 0)).toEqual([{ start: 0, end: 20 }]);
    for (const [count, perShard, maxShards] of [
      [1_000_000, 500, 533],
      [10_001, 7, 3],
      [999, 1, 998],
      [37, 5, 6],
    ] as const) {
      const ranges = treeRanges(count, perShard, maxShards);
      expect(ranges.length).toBeLessThanOrEqual(maxShards);
      expectCover(ranges, count);
    }
  });
});
