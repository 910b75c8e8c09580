/**
 * The payload budget's one routine: what to move to the store so that a value fits, decided
 * before anything is stored (so a workflow can compare the decision with the one older code made,
 * see `chooseFit`). Used for op results, batch results and inputs, scope and shard results,
 * activity inputs and collects. Sizes are UTF-8 bytes of JSON (src/dsl/limits.ts).
 */
import { utf8Length } from '../dsl/json.ts';
import type { StoredRef } from '../dsl/protocol.ts';
import type { ScopeEngine } from './types.ts';

/** UTF-8 bytes of `value`'s JSON. */
export function jsonBytes(value: unknown): number {
  return utf8Length(JSON.stringify(value) ?? 'null');
}

/** Characters of `value`'s JSON: how sizes were measured before the payload budget (kept for replay). */
export function jsonChars(value: unknown): number {
  return JSON.stringify(value)?.length ?? 4;
}

export type Measure = (value: unknown) => number;

export interface Sized<K> {
  readonly key: K;
  readonly size: number;
}

/**
 * The entries to store, largest first, until the rest (plus what each stored entry leaves behind,
 * `refSize`) is within `limit`. Entries under `smallest` are never worth storing. Pure.
 */
export function largestFirst<K>(entries: readonly Sized<K>[], limit: number, options: { refSize?: number; smallest?: number } = {}): K[] {
  let total = entries.reduce((sum, e) => sum + e.size, 0);
  if (total <= limit) return [];
  const chosen: K[] = [];
  for (const entry of [...entries].sort((a, b) => b.size - a.size)) {
    if (total <= limit || entry.size < (options.smallest ?? 0)) break;
    chosen.push(entry.key);
    total -= entry.size - (options.refSize ?? 0);
  }
  return chosen;
}

/** Splits a list into consecutive chunks of at most `limit` (a chunk holds at least one item); returns their lengths. Pure. */
export function chunkLengths(sizes: readonly number[], limit: number): number[] {
  const lengths: number[] = [];
  let count = 0;
  let bytes = 0;
  for (const size of sizes) {
    if (count > 0 && bytes + size > limit) {
      lengths.push(count);
      count = 0;
      bytes = 0;
    }
    count++;
    bytes += size;
  }
  if (count > 0) lengths.push(count);
  return lengths;
}

/** `items` cut into consecutive chunks of the given lengths. */
export function cut<T>(items: readonly T[], lengths: readonly number[]): T[][] {
  const chunks: T[][] = [];
  let at = 0;
  for (const length of lengths) {
    chunks.push(items.slice(at, at + length));
    at += length;
  }
  return chunks;
}

/** Splits a list into chunks of at most `limit` bytes each. */
export function chunked<T>(items: readonly T[], limit: number, measure: Measure = jsonBytes): T[][] {
  return cut(items, chunkLengths(items.map(measure), limit));
}

/**
 * Picks between the payload budget's decision and the one code before it made (`legacy`): the
 * same decision needs no gate; a different one is taken only where `patched` says this run
 * started after the change (Temporal's patched(): histories recorded before replay unchanged).
 */
export function chooseFit<D>(current: D, legacy: D, patched: () => boolean): D {
  if (JSON.stringify(current) === JSON.stringify(legacy)) return current;
  return patched() ? current : legacy;
}

/**
 * What to store, for a fitting whose older rule (`legacy`, measured in characters) was itself
 * introduced behind `legacyPatch`: runs recorded before that patch stored nothing (the gate is
 * asked only where the old rule would store), and the payload budget's own decision is taken where
 * `chooseFit` allows. Returns [] when neither rule stores anything.
 */
export function storedByEither<K>(engine: Pick<ScopeEngine, 'patched'>, current: K[], legacy: K[], legacyPatch: string): K[] {
  if (current.length === 0 && legacy.length === 0) return [];
  const before = legacy.length > 0 && !engine.patched(legacyPatch) ? [] : legacy;
  return chooseFit(current, before, () => engine.patched(PAYLOAD_BUDGET_PATCH));
}

/** Patch id of every payload-budget change to the commands a workflow issues. */
export const PAYLOAD_BUDGET_PATCH = 'opgraph-payload-budget';

/** A store call is an activity of this workflow: it draws from the budget like any other. */
export function storeWithin(engine: ScopeEngine, value: unknown): Promise<StoredRef> {
  return engine.budget.run('activity', () => engine.store(value));
}
