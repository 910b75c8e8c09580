/**
 * Scope geometry: which nodes of a plan run in which scope. A scope is the job's top level, or one
 * mapping key of a dynamic dimension (`dim`, outermost first) in one stage of that dimension. Every
 * "nodes of this stage", "dimensions below this scope" and "records of one key" question is
 * answered here, once.
 */
import { stepKey } from '../dsl/keys.ts';
import type { JobPlan, PlanNode } from '../dsl/plan.ts';
import type { ScopeResult, StepError, StepRecord } from '../dsl/protocol.ts';
import type { DimensionRequest, KeyedScope, ScopeContext } from './types.ts';

export function sameDim(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((d, i) => b[i] === d);
}

export function startsWith(dim: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= dim.length && prefix.every((d, i) => dim[i] === d);
}

/** The stage of `node` within the dimension at `level` of its `dim` (0 where the dimension does not split). */
export function stageAt(node: PlanNode, level: number): number {
  return node.stages[level] ?? 0;
}

/** Whether `node` takes part in stage `stage` of the scope at `dim` (itself or in a dimension below it). */
export function inStage(node: PlanNode, dim: readonly string[], stage: number): boolean {
  const level = dim.length - 1;
  return level < 0 || stageAt(node, level) === stage;
}

/** The nodes that run in a scope's stage: its own steps and those of the dimensions below it. */
export function stageNodes(nodes: readonly PlanNode[], dim: readonly string[], stage: number): PlanNode[] {
  return nodes.filter((n) => inStage(n, dim, stage));
}

/** The nodes that run as this scope's own steps (not in a dimension below it). */
export function ownNodes(nodes: readonly PlanNode[], dim: readonly string[], stage: number): PlanNode[] {
  return nodes.filter((n) => sameDim(n.dim, dim) && inStage(n, dim, stage));
}

/** The dimensions directly below the scope at `dim`, in plan order. */
export function dimensionsBelow(nodes: readonly PlanNode[], dim: readonly string[]): string[] {
  const below = new Set<string>();
  for (const node of nodes) {
    const next = node.dim[dim.length];
    if (next !== undefined && startsWith(node.dim, dim)) below.add(next);
  }
  return [...below];
}

/** Every node mapped over dimension `child` below the scope at `dim` (any depth, any stage). */
export function subtreeOf(nodes: readonly PlanNode[], dim: readonly string[], child: string): PlanNode[] {
  const path = [...dim, child];
  return nodes.filter((n) => startsWith(n.dim, path));
}

/** How many stages a dimension splits into at `level` (1 unless it has a barrier). */
export function stageCount(subtree: readonly PlanNode[], level: number): number {
  return 1 + Math.max(0, ...subtree.map((n) => stageAt(n, level)));
}

/** Nodes of the dimension itself (not deeper) that ran in stages before `stage`: a key carries their records forward. */
export function earlierStageNodes(subtree: readonly PlanNode[], dim: readonly string[], stage: number): PlanNode[] {
  const level = dim.length - 1;
  return subtree.filter((n) => sameDim(n.dim, dim) && stageAt(n, level) < stage);
}

/** The nodes one key of a dimension request runs as its own steps. */
export function keyNodes(request: DimensionRequest): PlanNode[] {
  return ownNodes(request.plan.nodes, request.dim, request.stage);
}

/** The plan a dimension's keys run with: the whole dimension's nodes (for lookups); only `request.stage` runs. */
export function subPlan(plan: JobPlan, subtree: readonly PlanNode[]): JobPlan {
  // Graph outputs matter only to clients reading the job's result: keys' inputs do not carry them.
  const { graphOutputs: _clientOnly, ...rest } = plan;
  return { ...rest, nodes: [...subtree] };
}

/** One key's records of the given nodes, picked from `records` (earlier stages' results). */
export function recordsOfKey(
  records: Readonly<Record<string, StepRecord>>,
  nodeIds: readonly string[],
  keys: readonly string[],
): Record<string, StepRecord> {
  const mine: Record<string, StepRecord> = {};
  for (const node of nodeIds) {
    const key = stepKey(node, keys);
    const record = records[key];
    if (record) mine[key] = record;
  }
  return mine;
}

/**
 * Nodes mapped over a dimension *below* `dim` (inside the subtree) that ran in stages of `dim`
 * before `stage`. A later stage of a nested map may consume them (an inner chained map split by a
 * barrier on the outer dimension), so each key carries their records down too.
 */
export function earlierStageDeepNodes(subtree: readonly PlanNode[], dim: readonly string[], stage: number): PlanNode[] {
  const level = dim.length - 1;
  return subtree.filter((n) => n.dim.length > dim.length && startsWith(n.dim, dim) && stageAt(n, level) < stage);
}

/**
 * Records grouped by the mapping key at position `depth - 1`: each key's records at that depth
 * and below. `accept` picks which records travel (by node).
 */
export function recordsByKey(
  records: Readonly<Record<string, StepRecord>>,
  depth: number,
  accept: (record: StepRecord) => boolean,
): Map<string, Record<string, StepRecord>> {
  const byKey = new Map<string, Record<string, StepRecord>>();
  for (const [key, record] of Object.entries(records)) {
    const mappingKey = record.mappingKeys[depth - 1];
    if (mappingKey === undefined || !accept(record)) continue;
    let bucket = byKey.get(mappingKey);
    if (!bucket) byKey.set(mappingKey, (bucket = {}));
    bucket[key] = record;
  }
  return byKey;
}

/** One mapping key of a dimension, ready to run: its item bound under the dimension's id. */
export function keyedScope(
  dimId: string,
  key: string,
  value: unknown,
  shared: KeyedScope['bindings'],
  prior: KeyedScope['prior'],
): KeyedScope {
  return { key, bindings: { ...shared, [dimId]: { state: 'value', value } }, prior };
}

/** The dimension a batch or shard input describes. */
export function dimensionRequestOf(input: DimensionRequest): DimensionRequest {
  return { plan: input.plan, dim: input.dim, source: input.source, outerKeys: input.outerKeys, stage: input.stage };
}

/** The scope of one mapping key of a dimension. */
export function childScope(parent: Pick<ScopeContext, 'runId' | 'runConfig'>, request: DimensionRequest, item: KeyedScope): ScopeContext {
  return {
    runId: parent.runId,
    plan: request.plan,
    runConfig: parent.runConfig,
    dim: request.dim,
    keys: [...request.outerKeys, item.key],
    bindings: item.bindings,
    stage: request.stage,
    prior: item.prior,
    ...(item.priorParts && item.priorParts.length > 0 ? { priorParts: item.priorParts } : {}),
    ...(item.reused && item.reused.length > 0 ? { reused: item.reused } : {}),
    ...(item.reusedParts && item.reusedParts.length > 0 ? { reusedParts: item.reusedParts } : {}),
  };
}

/** Step records blaming every step of a key's scope, for a key that ended without reporting (terminated, timed out). */
export function failedScope(request: DimensionRequest, key: string, error: StepError): ScopeResult {
  const keys = [...request.outerKeys, key];
  const steps: Record<string, StepRecord> = {};
  for (const node of keyNodes(request)) {
    steps[stepKey(node.id, keys)] = { node: node.id, mappingKeys: keys, status: 'FAILURE', error };
  }
  return { steps };
}
