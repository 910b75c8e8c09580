import { stepKey } from '../dsl/keys.ts';
import type {
  NodeSummary,
  ScopeResult,
  ShardResult,
  ShardWorkflowInput,
  StepRecord,
  StoredRef,
} from '../dsl/protocol.ts';
import { dimensionRequestOf, type KeyedScope, runKeyed, type ScopeEngine } from './interpreter.ts';
import type { ProgressSink } from './progress.ts';

/** Item values above this size reach a shard as references, so a slice always fits one payload. */
const SLICE_INLINE_LIMIT = 1024;
/** Stored result chunks stay below Temporal's 512 KiB payload warning (and far below the 2 MiB limit). */
const CHUNK_CHARS = 400_000;

/**
 * A shard: runs keys `[start, end)` of one dimension (in the dimension's mode), stores their step
 * records and returns only a summary, so the parent's history stays small at any fan-out size.
 */
export async function runShardScope(input: ShardWorkflowInput, engine: ScopeEngine, progress: ProgressSink): Promise<ShardResult> {
  const dimId = input.dim[input.dim.length - 1] ?? '';
  const depth = input.outerKeys.length + 1;
  let items = 'inline' in input.items ? input.items.inline : [];
  let prior: Record<string, StepRecord> = {};
  if ('ref' in input.items || input.priorParts.length > 0) {
    const slice = await engine.slice({
      ...('ref' in input.items ? { itemsRef: input.items.ref } : {}),
      start: input.start,
      end: input.end,
      inlineLimit: SLICE_INLINE_LIMIT,
      priorParts: input.priorParts,
      priorNodes: input.priorNodes,
      depth,
    });
    if ('ref' in input.items) items = slice.items;
    prior = slice.prior;
  }
  const request = dimensionRequestOf(input);
  const keyed = items.map(([key, value]): KeyedScope => {
    const keys = [...input.outerKeys, key];
    const mine: Record<string, StepRecord> = {};
    for (const node of input.priorNodes) {
      const record = prior[stepKey(node, keys)];
      if (record) mine[stepKey(node, keys)] = record;
    }
    return { key, bindings: { ...input.bindings, [dimId]: { state: 'value', value } }, prior: mine };
  });
  const options = input.plan.dimensions?.[dimId] ?? {};
  const results: ScopeResult[] = [];
  progress.dimensionKeys(dimId, keyed.length);
  await runKeyed(input, engine, progress, request, keyed, options, dimId, (index, result) => {
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
  return {
    parts: [...(await storeInChunks(steps, engine)), ...nested],
    keys: keyed.length,
    nodes: summarize(steps),
    failures: [...failuresOf(steps), ...nestedFailures].slice(0, MAX_FAILURES),
  };
}

/** Stores records in order, in chunks that each fit one payload; returns the chunks' references. */
export async function storeInChunks(steps: Record<string, StepRecord>, engine: ScopeEngine): Promise<StoredRef[]> {
  const refs: StoredRef[] = [];
  let chunk: Record<string, StepRecord> = {};
  let size = 0;
  const flush = async () => {
    if (size === 0) return;
    refs.push(await engine.store({ steps: chunk }));
    chunk = {};
    size = 0;
  };
  for (const [key, record] of Object.entries(steps)) {
    const length = JSON.stringify(record).length + key.length;
    if (size > 0 && size + length > CHUNK_CHARS) await flush();
    chunk[key] = record;
    size += length;
  }
  await flush();
  return refs;
}

function summarize(steps: Record<string, StepRecord>): Record<string, NodeSummary> {
  const nodes: Record<string, NodeSummary> = {};
  for (const record of Object.values(steps)) {
    const summary = (nodes[record.node] ??= { statuses: {}, produced: {} });
    summary.statuses[record.status] = (summary.statuses[record.status] ?? 0) + 1;
    if (record.status !== 'SUCCESS') continue;
    for (const output of record.outputs ?? []) summary.produced[output.name] = (summary.produced[output.name] ?? 0) + 1;
  }
  return nodes;
}

/**
 * Keeps a scope's own records inline and stores the deeper ones when the whole would be too
 * large to return through Temporal (a child's result lands in its parent's history).
 */
export async function compactResult(result: ScopeResult, depth: number, engine: ScopeEngine, limitChars: number): Promise<ScopeResult> {
  if (JSON.stringify(result).length <= limitChars) return result;
  const own: Record<string, StepRecord> = {};
  const deeper: Record<string, StepRecord> = {};
  for (const [key, record] of Object.entries(result.steps)) {
    if (record.mappingKeys.length <= depth) own[key] = record;
    else deeper[key] = record;
  }
  const failures = [...failuresOf(deeper), ...(result.failures ?? [])].slice(0, MAX_FAILURES);
  await storeLargeOutputs(own, engine, limitChars);
  return {
    steps: own,
    parts: [...(await storeInChunks(deeper, engine)), ...(result.parts ?? [])],
    ...(failures.length > 0 ? { failures } : {}),
  };
}

/**
 * When a scope's own records alone are still too large (many outputs each under the store
 * threshold), their largest output values go to the store as references, in place.
 */
async function storeLargeOutputs(steps: Record<string, StepRecord>, engine: ScopeEngine, limitChars: number): Promise<void> {
  let total = JSON.stringify(steps).length;
  if (total <= limitChars) return;
  // Only results this large take this path (they used to exceed Temporal's limits), so older histories replay unchanged.
  if (!engine.patched('opgraph-store-large-results')) return;
  const outputs = Object.values(steps).flatMap((record) => (record.outputs ?? []).map((output, index) => ({ record, output, index })));
  const sized = outputs.map((o) => ({ ...o, chars: JSON.stringify(o.output).length })).sort((a, b) => b.chars - a.chars);
  for (const { record, output, index, chars } of sized) {
    if (total <= limitChars || chars < 1024 || !record.outputs) break;
    if ('value' in output) record.outputs[index] = { name: output.name, value: await engine.store(output.value) };
    else if ('items' in output) record.outputs[index] = { name: output.name, itemsRef: await engine.store(output.items), count: output.items.length };
    total -= chars;
  }
}

/** Failed steps travel up as a short list; the full records are in the stored parts. */
const MAX_FAILURES = 100;

function failuresOf(steps: Record<string, StepRecord>): ShardResult['failures'] {
  return Object.entries(steps)
    .filter(([, r]) => r.status === 'FAILURE')
    .map(([stepKey, r]) => ({ stepKey, error: r.error ?? { type: 'Error', message: '' } }));
}
