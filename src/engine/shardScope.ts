/**
 * A shard workflow's body: a dimension too large for one workflow's history runs in shard
 * workflows, each owning a slice `[start, end)` of the keys. A shard stores its keys' step records
 * and returns a summary, so the parent's history stays small at any fan-out size; a shard whose
 * slice is itself too large splits again (a tree of shards).
 */
import { EVENTS, PAYLOAD } from '../dsl/limits.ts';
import type { NodeSummary, ScopeResult, ShardResult, ShardWorkflowInput, StepRecord, StoredRef } from '../dsl/protocol.ts';
import { tagShardItems } from '../dsl/wire.ts';
import { dimensionRequestOf, dimensionsBelow, keyedScope, ownNodes, recordsByKey, stageNodes } from './geometry.ts';
import { ScopeInterpreter } from './interpreter.ts';
import { runKeyed } from './keyed.ts';
import type { ProgressSink } from './progress.ts';
import { failuresOf, MAX_FAILURES, storeInChunks, summarize } from './results.ts';
import { keyEvents, keysPerShard, treeRanges } from './sharding.ts';
import { runShards } from './shards.ts';
import { cutFailures, failedBefore, hasUntoleratedFailure } from './tolerance.ts';
import type { ScopeContext, ScopeEngine } from './types.ts';

/**
 * A shard workflow: runs keys `[start, end)` of one dimension (in the dimension's mode), stores
 * their step records and returns only a summary.
 */
export async function runShardScope(input: ShardWorkflowInput, engine: ScopeEngine, progress: ProgressSink): Promise<ShardResult> {
  const dimId = input.dim[input.dim.length - 1] ?? '';
  const options = input.plan.dimensions?.[dimId] ?? {};
  const request = dimensionRequestOf(input);
  const count = input.end - input.start;
  const own = ownNodes(input.plan.nodes, input.dim, input.stage);
  const perKey = keyEvents(options, own, dimensionsBelow(stageNodes(input.plan.nodes, input.dim, input.stage), input.dim).length);
  const perShard = keysPerShard(options, perKey);
  if (count > perShard && engine.budget.enforced()) return runSubShards(input, engine, progress, perShard);

  const depth = input.outerKeys.length + 1;
  // Untagged in histories recorded before the tags: read through the kind, pass on tagged.
  const given = tagShardItems(input.items);
  let items = given.kind === 'inline' ? given.inline : [];
  let prior: Record<string, StepRecord> = {};
  if (given.kind === 'ref' || input.priorParts.length > 0 || (input.reusedParts?.length ?? 0) > 0) {
    const slice = await engine.budget.run('activity', () =>
      engine.slice({
        ...(given.kind === 'ref' ? { itemsRef: given.ref } : { keys: items.map(([key]) => key) }),
        start: input.start,
        end: input.end,
        inlineLimit: PAYLOAD.sliceValue,
        priorParts: input.priorParts,
        priorNodes: input.reusedParts ? input.plan.nodes.map((n) => n.id) : input.priorNodes,
        // A redriven shard takes over what did not fail in its earlier run (only ever set with onStepFailure 'wait').
        ...(input.reusedParts ? { reusedParts: input.reusedParts } : {}),
        depth,
      }),
    );
    if (given.kind === 'ref') items = slice.items;
    prior = slice.prior;
  }
  // The slice holds only this shard's keys' records of `priorNodes`: each key takes its own (and those below it).
  const priorByKey = recordsByKey(prior, depth, () => true);
  const keyed = items.map(([key, value]) => keyedScope(dimId, key, value, input.bindings, priorByKey.get(key) ?? {}));
  engine.budget.reserveEvents(keyed.length * perKey);
  const results: ScopeResult[] = [];
  progress.dimensionKeys(dimId, keyed.length);
  const runInline = (scope: ScopeContext, lean: boolean) => new ScopeInterpreter(scope, engine, progress, { lean }).run();
  await runKeyed(input, engine, progress, runInline, request, keyed, options, dimId, (index, result) => {
    results[index] = result;
  });

  const steps: Record<string, StepRecord> = {};
  const nested: StoredRef[] = [];
  const nestedFailures: ShardResult['failures'] = [];
  for (const result of results) {
    Object.assign(steps, result.steps);
    nested.push(...(result.parts ?? []));
    nestedFailures.push(...(result.failures ?? []));
  }
  // A map with toleratedFailures: the parent counts failed keys across shards (keys that failed in an earlier stage count once).
  const failedKeys = options.toleratedFailures
    ? results.filter((result, i) => hasUntoleratedFailure(result) && !failedBefore(keyed[i]?.prior ?? {})).length
    : undefined;
  return {
    parts: [...(await storeInChunks(steps, engine)), ...nested],
    keys: keyed.length,
    nodes: summarize(steps),
    failures: cutFailures([...failuresOf(steps), ...nestedFailures], MAX_FAILURES),
    ...(failedKeys !== undefined ? { failedKeys } : {}),
  };
}

/** A shard too large for one history runs its slice as shards of its own, and sums up what they report. */
async function runSubShards(
  input: ShardWorkflowInput,
  engine: ScopeEngine,
  progress: ProgressSink,
  perShard: number,
): Promise<ShardResult> {
  const dimId = input.dim[input.dim.length - 1] ?? '';
  const count = input.end - input.start;
  const ranges = treeRanges(count, perShard, Math.max(1, Math.floor(engine.budget.freeEvents / EVENTS.shard))).map((r) => ({
    start: input.start + r.start,
    end: input.start + r.end,
  }));
  engine.budget.reserveEvents(ranges.length * EVENTS.shard);
  const results: ShardResult[] = [];
  progress.dimensionKeys(dimId, count);
  progress.dimensionSharded?.(dimId);
  const given = tagShardItems(input.items);
  await runShards(engine, dimensionRequestOf(input), ranges, input.plan.dimensions?.[dimId] ?? {}, {
    runConfig: input.runConfig,
    items: (start, end) =>
      given.kind === 'inline' ? { kind: 'inline', inline: given.inline.slice(start - input.start, end - input.start) } : given,
    bindings: input.bindings,
    priorParts: () => input.priorParts,
    priorNodes: input.priorNodes,
    ...(input.reusedParts ? { reusedParts: input.reusedParts } : {}),
    finished: (index, result, keys) => {
      results[index] = result;
      progress.shardFinished(dimId, keys, result);
    },
  });
  const nodes: Record<string, NodeSummary> = {};
  for (const result of results) {
    for (const [node, summary] of Object.entries(result.nodes)) {
      const into = (nodes[node] ??= { statuses: {}, produced: {} });
      for (const [status, n] of Object.entries(summary.statuses)) into.statuses[status] = (into.statuses[status] ?? 0) + n;
      for (const [output, n] of Object.entries(summary.produced)) into.produced[output] = (into.produced[output] ?? 0) + n;
    }
  }
  const failedKeys = results.some((r) => r.failedKeys !== undefined) ? results.reduce((sum, r) => sum + (r.failedKeys ?? 0), 0) : undefined;
  return {
    parts: results.flatMap((r) => r.parts),
    keys: results.reduce((sum, r) => sum + r.keys, 0),
    nodes,
    failures: cutFailures(
      results.flatMap((r) => r.failures),
      MAX_FAILURES,
    ),
    ...(failedKeys !== undefined ? { failedKeys } : {}),
  };
}
