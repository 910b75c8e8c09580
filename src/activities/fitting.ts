/**
 * The op runner's side of the payload budget (src/dsl/limits.ts): what an op or a batch returns
 * through Temporal is fitted with the engine's one routine — largest values to the store first.
 */
import { PAYLOAD } from '../dsl/limits.ts';
import type { ScopeResult, StoredRef, TaskOutput } from '../dsl/protocol.ts';
import { jsonBytes, largestFirst } from '../engine/payload.ts';
import { getDefaultStore, isStoredRef, offload } from '../store/store.ts';

/** Told of every value written to the store (opgraph_bytes_stored_total, src/activities/observe.ts). */
type OnStored = (ref: StoredRef) => void;
const NOT_OBSERVED: OnStored = () => {};

async function put(json: string, onStored: OnStored): Promise<StoredRef> {
  const ref = await getDefaultStore().put(json);
  onStored(ref);
  return ref;
}

async function offloaded(value: unknown, onStored: OnStored): Promise<unknown> {
  const result = await offload(value);
  if (result !== value && isStoredRef(result)) onStored(result);
  return result;
}

/** A stored reference's own JSON size, about. */
const REF_BYTES = 160;

/** Large values go to the store; the workflow only ever sees references. A fan-out list too big for one payload is stored whole. */
export async function offloadOutput(output: TaskOutput, onStored: OnStored = NOT_OBSERVED): Promise<TaskOutput> {
  if (output.kind === 'value') return { kind: 'value', name: output.name, value: await offloaded(output.value, onStored) };
  if (output.kind !== 'items') return output;
  const items = await Promise.all(output.items.map(async ([key, value]) => [key, await offloaded(value, onStored)] as [string, unknown]));
  const json = JSON.stringify(items);
  if (jsonBytes(items) > PAYLOAD.fanOutItems)
    return { kind: 'itemsRef', name: output.name, itemsRef: await put(json, onStored), count: items.length };
  return { kind: 'items', name: output.name, items };
}

/** One output stored whole: a value becomes a reference, a fan-out list a stored list. */
async function storeOutput(output: TaskOutput, onStored: OnStored): Promise<TaskOutput> {
  if (output.kind === 'value') return { kind: 'value', name: output.name, value: await put(JSON.stringify(output.value), onStored) };
  if (output.kind === 'items') {
    return {
      kind: 'itemsRef',
      name: output.name,
      itemsRef: await put(JSON.stringify(output.items), onStored),
      count: output.items.length,
    };
  }
  return output;
}

/** Each output under the store threshold can still add up, over several outputs, to more than one result may carry. */
export async function fitOutputs(
  outputs: readonly TaskOutput[],
  onStored: OnStored = NOT_OBSERVED,
  limit: number = PAYLOAD.opResult,
): Promise<TaskOutput[]> {
  const chosen = new Set(
    largestFirst(
      outputs.map((o, i) => ({ key: i, size: jsonBytes(o) })),
      limit,
      { refSize: REF_BYTES },
    ),
  );
  return Promise.all(outputs.map((o, i) => (chosen.has(i) ? storeOutput(o, onStored) : Promise.resolve(o))));
}

/**
 * A batch returns every key's records in one activity result: across all keys, the largest output
 * values go to the store until the whole fits (so 100 keys × 25 KB is fine, and so is one 1 MB value).
 */
export async function fitBatchResults(
  results: readonly ScopeResult[],
  onStored: (ref: StoredRef, node: string) => void = NOT_OBSERVED,
): Promise<ScopeResult[]> {
  const outputs = results.flatMap((result, r) =>
    Object.entries(result.steps).flatMap(([key, record]) => (record.outputs ?? []).map((output, o) => ({ r, key, o, output }))),
  );
  const overhead = jsonBytes(results) - outputs.reduce((sum, x) => sum + jsonBytes(x.output), 0);
  const chosen = largestFirst(
    outputs.map((x, i) => ({ key: i, size: jsonBytes(x.output) })),
    PAYLOAD.batchResult - overhead,
    { refSize: REF_BYTES, smallest: PAYLOAD.smallestStored },
  );
  if (chosen.length === 0) return [...results];
  const fitted = results.map((result) => ({ ...result, steps: { ...result.steps } }));
  for (const i of chosen) {
    const x = outputs[i];
    const result = x ? fitted[x.r] : undefined;
    const record = x && result ? result.steps[x.key] : undefined;
    if (!x || !result || !record?.outputs) continue;
    const outputsCopy = [...record.outputs];
    outputsCopy[x.o] = await storeOutput(x.output, (ref) => onStored(ref, record.node));
    result.steps[x.key] = { ...record, outputs: outputsCopy };
  }
  return fitted;
}
