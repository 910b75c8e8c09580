/** What a scope or shard returns, kept small enough for Temporal: deeper records and large outputs go to the store. */
import { PAYLOAD } from '../dsl/limits.ts';
import type { NodeSummary, ScopeResult, ShardResult, StepRecord, StoredRef } from '../dsl/protocol.ts';
import { tagOutput } from '../dsl/wire.ts';
import {
  chooseFit,
  chunkLengths,
  cut,
  jsonBytes,
  jsonChars,
  largestFirst,
  PAYLOAD_BUDGET_PATCH,
  storedByEither,
  storeWithin,
  type Measure,
} from './payload.ts';
import { cutFailures } from './tolerance.ts';
import type { ScopeEngine } from './types.ts';

/** Before the payload budget, record chunks were measured in characters (kept for replay). */
const LEGACY_CHUNK_CHARS = 400_000;

/** Stores records in order, in chunks that each fit one payload; returns the chunks' references. */
export async function storeInChunks(steps: Record<string, StepRecord>, engine: ScopeEngine): Promise<StoredRef[]> {
  const entries = Object.entries(steps);
  const sizes = (measure: Measure) => entries.map(([key, record]) => measure(record) + measure(key));
  const lengths = chooseFit(chunkLengths(sizes(jsonBytes), PAYLOAD.chunk), chunkLengths(sizes(jsonChars), LEGACY_CHUNK_CHARS), () =>
    engine.patched(PAYLOAD_BUDGET_PATCH),
  );
  const refs: StoredRef[] = [];
  for (const chunk of cut(entries, lengths)) refs.push(await storeWithin(engine, { steps: Object.fromEntries(chunk) }));
  return refs;
}

export function summarize(steps: Record<string, StepRecord>): Record<string, NodeSummary> {
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
 * `limit` is in bytes; `legacyLimitChars` is what code before the payload budget used.
 */
export async function compactResult(
  result: ScopeResult,
  depth: number,
  engine: ScopeEngine,
  limit: number,
  legacyLimitChars: number,
): Promise<ScopeResult> {
  const compact = chooseFit(jsonBytes(result) > limit, jsonChars(result) > legacyLimitChars, () => engine.patched(PAYLOAD_BUDGET_PATCH));
  if (!compact) return result;
  const own: Record<string, StepRecord> = {};
  const deeper: Record<string, StepRecord> = {};
  for (const [key, record] of Object.entries(result.steps)) {
    if (record.mappingKeys.length <= depth) own[key] = record;
    else deeper[key] = record;
  }
  const failures = cutFailures([...failuresOf(deeper), ...(result.failures ?? [])], MAX_FAILURES);
  await storeLargeOutputs(own, engine, limit, legacyLimitChars);
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
async function storeLargeOutputs(
  steps: Record<string, StepRecord>,
  engine: ScopeEngine,
  limit: number,
  legacyLimitChars: number,
): Promise<void> {
  const outputs = Object.values(steps).flatMap((record) => (record.outputs ?? []).map((output, index) => ({ record, output, index })));
  const plan = (measure: Measure, max: number) =>
    largestFirst(
      outputs.map((o, i) => ({ key: i, size: measure(o.output) })),
      max - (measure(steps) - outputs.reduce((sum, o) => sum + measure(o.output), 0)),
      { smallest: PAYLOAD.smallestStored },
    );
  for (const i of storedByEither(engine, plan(jsonBytes, limit), plan(jsonChars, legacyLimitChars), 'opgraph-store-large-results')) {
    const entry = outputs[i];
    const list = entry?.record.outputs;
    if (!entry || !list) continue;
    const output = tagOutput(entry.output);
    if (output.kind === 'value') list[entry.index] = { kind: 'value', name: output.name, value: await storeWithin(engine, output.value) };
    else if (output.kind === 'items') {
      list[entry.index] = {
        kind: 'itemsRef',
        name: output.name,
        itemsRef: await storeWithin(engine, output.items),
        count: output.items.length,
      };
    }
  }
}

/** Failed steps travel up as a short list; the full records are in the stored parts. */
export const MAX_FAILURES = 100;

export function failuresOf(steps: Record<string, StepRecord>): ShardResult['failures'] {
  return Object.entries(steps)
    .filter(([, r]) => r.status === 'FAILURE')
    .map(([key, r]) => ({
      stepKey: key,
      error: r.error ?? { type: 'Error', message: '' },
      ...(r.tolerated ? { tolerated: true as const } : {}),
    }));
}
