/**
 * The op runner's side of the payload budget (src/dsl/limits.ts): what an op or a batch returns
 * through Temporal is fitted with the engine's one routine — largest values to the store first.
 */
import { PAYLOAD } from '../dsl/limits.ts';
import type { ScopeResult, TaskOutput } from '../dsl/protocol.ts';
import { jsonBytes, largestFirst } from '../engine/payload.ts';
import { getDefaultStore, offload } from '../store/store.ts';

/** A stored reference's own JSON size, about. */
const REF_BYTES = 160;

/** Large values go to the store; the workflow only ever sees references. A fan-out list too big for one payload is stored whole. */
export async function offloadOutput(output: TaskOutput): Promise<TaskOutput> {
  if (output.kind === 'value') return { kind: 'value', name: output.name, value: await offload(output.value) };
  if (output.kind !== 'items') return output;
  const items = await Promise.all(output.items.map(async ([key, value]) => [key, await offload(value)] as [string, unknown]));
  const json = JSON.stringify(items);
  if (jsonBytes(items) > PAYLOAD.fanOutItems)
    return { kind: 'itemsRef', name: output.name, itemsRef: await getDefaultStore().put(json), count: items.length };
  return { kind: 'items', name: output.name, items };
}

/** One output stored whole: a value becomes a reference, a fan-out list a stored list. */
async function storeOutput(output: TaskOutput): Promise<TaskOutput> {
  if (output.kind === 'value')
    return { kind: 'value', name: output.name, value: await getDefaultStore().put(JSON.stringify(output.value)) };
  if (output.kind === 'items') {
    return {
      kind: 'itemsRef',
      name: output.name,
      itemsRef: await getDefaultStore().put(JSON.stringify(output.items)),
      count: output.items.length,
    };
  }
  return output;
}

/** Each output under the store threshold can still add up, over several outputs, to more than one result may carry. */
export async function fitOutputs(outputs: readonly TaskOutput[], limit: number = PAYLOAD.opResult): Promise<TaskOutput[]> {
  const chosen = new Set(
    largestFirst(
      outputs.map((o, i) => ({ key: i, size: jsonBytes(o) })),
      limit,
      { refSize: REF_BYTES },
    ),
  );
  return Promise.all(outputs.map((o, i) => (chosen.has(i) ? storeOutput(o) : Promise.resolve(o))));
}

/**
 * A batch returns every key's records in one activity result: across all keys, the largest output
 * values go to the store until the whole fits (so 100 keys × 25 KB is fine, and so is one 1 MB value).
 */
export async function fitBatchResults(results: readonly ScopeResult[]): Promise<ScopeResult[]> {
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
    outputsCopy[x.o] = await storeOutput(x.output);
    result.steps[x.key] = { ...record, outputs: outputsCopy };
  }
  return fitted;
}
