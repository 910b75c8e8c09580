import type { PlanRetryPolicy } from '../dsl/plan.ts';

/**
 * Delay before user-retry number `attempt` (1 = first retry), as Dagster's RetryPolicy computes it:
 * linear `delay·n`, exponential `delay·(2ⁿ−1)`, then full or ± jitter. `random` is the workflow's
 * seeded PRNG, so replay computes the same delay.
 */
export function retryDelayMs(policy: PlanRetryPolicy, attempt: number, random: () => number): number {
  let seconds = policy.delay;
  if (policy.backoff === 'linear') seconds = policy.delay * attempt;
  if (policy.backoff === 'exponential') seconds = policy.delay * (2 ** attempt - 1);
  if (policy.jitter === 'full') seconds = random() * seconds;
  if (policy.jitter === 'plus_minus') seconds = seconds + (random() * seconds - seconds / 2);
  return Math.max(0, Math.round(seconds * 1000));
}
