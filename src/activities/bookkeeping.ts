import { stepKey } from '../dsl/keys.ts';
import { SliceInput, type SliceResult, type StepRecord, type StoredRef } from '../dsl/protocol.ts';
import { reusable } from '../engine/redrive.ts';
import { getDefaultStore, loadPart, offload, readJson } from '../store/store.ts';

/** `__opgraph_store`: workflows cannot write files, so they hand large results to this activity. */
export async function storeValue(value: unknown): Promise<StoredRef> {
  return getDefaultStore().put(JSON.stringify(value));
}

/**
 * `__opgraph_slice`: a shard's keys from a stored fan-out list (values above `inlineLimit` as
 * references, so the slice fits one payload) and its keys' records from the previous stage.
 */
export async function sliceItems(raw: unknown): Promise<SliceResult> {
  const input = SliceInput.parse(raw);
  const store = getDefaultStore();
  let items: [string, unknown][] = [];
  if (input.itemsRef) {
    const all = (await readJson(input.itemsRef, store)) as [string, unknown][];
    items = await Promise.all(
      all
        .slice(input.start, input.end)
        .map(async ([key, value]) => [key, await offload(value, store, input.inlineLimit)] as [string, unknown]),
    );
  }
  const wanted = new Set(input.priorNodes);
  // Only this slice's keys: a shard of a shard gets its parent's wider parts.
  const keys = input.itemsRef ? new Set(items.map(([key]) => key)) : input.keys ? new Set(input.keys) : undefined;
  const prior: Record<string, StepRecord> = {};
  const take = (record: StepRecord) =>
    // A key's own records and those below it (deeper ones: see NESTED_PRIOR_PATCH in src/engine/interpreter.ts).
    wanted.has(record.node) && record.mappingKeys.length >= input.depth && (!keys || keys.has(record.mappingKeys[input.depth - 1] ?? ''));
  for (const part of input.priorParts) {
    for (const record of Object.values((await loadPart(part, store)).steps)) {
      if (take(record)) prior[stepKey(record.node, record.mappingKeys)] = record;
    }
  }
  // A redrive takes over what did not fail; the failed steps (and those they abandoned) run again.
  for (const part of input.reusedParts ?? []) {
    for (const record of Object.values((await loadPart(part, store)).steps)) {
      if (take(record) && reusable(record)) prior[stepKey(record.node, record.mappingKeys)] = { ...record, reused: true };
    }
  }
  return { items, prior };
}
