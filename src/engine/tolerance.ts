/**
 * Tolerated failures per map, the interpreter's side (the rule itself: src/dsl/tolerance.ts).
 *
 * A key of a map *failed* when its scope holds a FAILURE that no map inside it tolerated. The scope
 * that runs a map counts its failed keys after each stage; within the tolerance, its collects skip
 * the failed keys, and when the map ends within it, every FAILURE of the map is marked
 * `tolerated` — in the records and failure references it holds — so no scope above counts them and
 * the workflow does not fail for them. Maps without the option never mark anything: their runs
 * issue the same commands as before.
 */
import { parseStepKey } from '../dsl/keys.ts';
import type { ScopeResult, ShardResult, StepError, StepRecord } from '../dsl/protocol.ts';

type FailureRef = NonNullable<ScopeResult['failures']>[number];

/** Whether a key's (or scope's) result holds a failure that no map inside it tolerated. */
export function hasUntoleratedFailure(result: ScopeResult): boolean {
  return (
    Object.values(result.steps).some((r) => r.status === 'FAILURE' && !r.tolerated) || (result.failures ?? []).some((f) => !f.tolerated)
  );
}

/** Whether earlier-stage records of a key show it failed already. */
export function failedBefore(prior: Readonly<Record<string, StepRecord>>): boolean {
  return Object.values(prior).some((r) => r.status === 'FAILURE' && !r.tolerated);
}

/** Marks every failure a key's result holds as tolerated (its map ended within its tolerance). */
export function markTolerated(result: ScopeResult): void {
  for (const record of Object.values(result.steps)) if (record.status === 'FAILURE') record.tolerated = true;
  for (const ref of result.failures ?? []) ref.tolerated = true;
}

/**
 * Marks the failures a shard reports as tolerated: those of the map's own steps (`inMap`), not a
 * shard that ended without reporting (that is no key's failure).
 */
export function markShardTolerated(result: ShardResult, inMap: (node: string) => boolean): void {
  for (const ref of result.failures) if (inMap(parseStepKey(ref.stepKey).node)) ref.tolerated = true;
}

/** The failures that fail a scope: its FAILURE records and failure references not marked tolerated. */
export function untoleratedFailures(result: ScopeResult): { stepKey: string; error: StepError | undefined }[] {
  return [
    ...Object.entries(result.steps)
      .filter(([, r]) => r.status === 'FAILURE' && !r.tolerated)
      .map(([stepKey, r]) => ({ stepKey, error: r.error })),
    ...(result.failures ?? []).filter((f) => !f.tolerated),
  ];
}

/**
 * Failure references, cut to `max` with the untolerated first: a cut list must still show a
 * scope above that something failed. Order is otherwise kept (runs without tolerance see no change).
 */
export function cutFailures(failures: readonly FailureRef[], max: number): FailureRef[] {
  if (!failures.some((f) => f.tolerated)) return failures.slice(0, max);
  return [...failures.filter((f) => !f.tolerated), ...failures.filter((f) => f.tolerated)].slice(0, max);
}
