import type { PlanRetryPolicy } from '../dsl/plan.ts';

/**
 * Versioning gate of Dagster's PLUS_MINUS formula. Before it, PLUS_MINUS drew ±50 % of the
 * backed-off delay; a retry timer's duration is part of the command, so histories recorded before
 * the change (no marker) keep the old formula on replay.
 */
export const DAGSTER_JITTER_PATCH = 'opgraph-dagster-jitter';

/**
 * Delay before user-retry number `attempt` (1 = first retry), as Dagster's `calculate_delay`
 * (dagster/_core/definitions/policy.py) computes it from the base `delay`:
 * - backoff: none `delay`, linear `delay·n`, exponential `delay·(2ⁿ−1)`;
 * - jitter FULL: `random·backoff_delay`; PLUS_MINUS: `backoff_delay + (2·random·delay − delay)`.
 * Dagster does not clamp; a negative wait there means "retry now" (the retry time is already past),
 * which a timer expresses as 0. `random` is the workflow's seeded PRNG, so replay computes the same
 * delay. `dagsterPlusMinus` is asked only for PLUS_MINUS (it is `patched(DAGSTER_JITTER_PATCH)` in
 * a workflow); false keeps the formula of histories recorded before the gate.
 */
export function retryDelayMs(
  policy: PlanRetryPolicy,
  attempt: number,
  random: () => number,
  dagsterPlusMinus: () => boolean = () => true,
): number {
  const base = policy.delay;
  let seconds = base;
  if (policy.backoff === 'linear') seconds = base * attempt;
  if (policy.backoff === 'exponential') seconds = base * (2 ** attempt - 1);
  if (policy.jitter === 'full') seconds = random() * seconds;
  if (policy.jitter === 'plus_minus') {
    seconds = dagsterPlusMinus() ? seconds + (2 * (random() * base) - base) : legacyPlusMinus(seconds, random);
  }
  return Math.max(0, Math.round(seconds * 1000));
}

/** Before DAGSTER_JITTER_PATCH: ±50 % of the backed-off delay (kept for replay). */
function legacyPlusMinus(seconds: number, random: () => number): number {
  return seconds + (random() * seconds - seconds / 2);
}
