/**
 * A key mapped as a child workflow (the default mode) retries inside its child, which reports to
 * the job only when it ends: the job's `progress` query cannot name it while it retries. Its step
 * journal can (the op runner writes each attempt's end, `willRetry` included), so the CLI's live
 * views add those keys to what the query said. Reads only the store; no workflow is asked.
 */
import type { JobPlan } from '../dsl/plan.ts';
import { NAMED_KEYS, type RetryingKey, type RunProgress, shortError } from '../engine/progress.ts';
import { listStepJournals, type StepJournal } from '../store/stepLogs.ts';
import type { ValueStore } from '../store/types.ts';

/** The steps whose journal says they retry now: the last attempt failed and will retry, or a later attempt runs. */
export function retryingFromJournals(journals: readonly StepJournal[], plan: JobPlan): Map<string, RetryingKey[]> {
  const byNode = new Map<string, RetryingKey[]>();
  for (const journal of journals) {
    const attempts = journal.attempts;
    const last = attempts[attempts.length - 1];
    if (!last) continue;
    const retrying = (last.state === 'failed' && last.willRetry === true) || (last.state === 'running' && last.attempt > 1);
    if (!retrying) continue;
    const failed = [...attempts].reverse().find((a) => a.state === 'failed');
    const policy = plan.nodes.find((n) => n.id === journal.node)?.retryPolicy;
    const attempt = last.state === 'failed' ? last.attempt + 1 : last.attempt;
    const key: RetryingKey = {
      stepKey: journal.stepKey,
      attempt,
      of: Math.max(attempt, (policy?.maxRetries ?? 0) + 1),
      error: shortError(failed?.error),
    };
    byNode.set(journal.node, [...(byNode.get(journal.node) ?? []), key]);
  }
  return byNode;
}

/** `progress` with the retrying keys its query could not see (those already named are left as they are). */
export function withJournalRetries(progress: RunProgress, retrying: ReadonlyMap<string, RetryingKey[]>): RunProgress {
  const nodes = { ...progress.nodes };
  for (const [node, keys] of retrying) {
    const counts = nodes[node];
    if (!counts) continue;
    const named = new Set((counts.retryingKeys ?? []).map((k) => k.stepKey));
    const extra = keys
      .filter((k) => !named.has(k.stepKey))
      .sort((a, b) => a.stepKey.localeCompare(b.stepKey, undefined, { numeric: true }));
    if (extra.length === 0) continue;
    // Retrying steps count as running (the query counts a child's steps only when it ends).
    nodes[node] = {
      ...counts,
      running: counts.running + extra.length,
      retrying: (counts.retrying ?? 0) + extra.length,
      retryingKeys: [...(counts.retryingKeys ?? []), ...extra].slice(0, NAMED_KEYS),
    };
  }
  return { ...progress, nodes };
}

/** Whether some step of the plan runs inside a per-key child workflow (only those need the journals). */
export function hasChildMaps(plan: JobPlan): boolean {
  return plan.nodes.some((n) => n.dim.some((dim) => (plan.dimensions?.[dim]?.mode ?? 'child') === 'child'));
}

/**
 * For a view that polls: the journal-derived retrying keys of a run, read at most every `everyMs`
 * (listing a big run's journals is not free) and with succeeded steps' journals read once.
 */
export function journalRetryReader(
  store: ValueStore,
  runId: string,
  plan: JobPlan,
  everyMs = 2_000,
): () => Promise<Map<string, RetryingKey[]>> {
  const succeeded = new Map<string, StepJournal>();
  let last: { at: number; value: Map<string, RetryingKey[]> } | undefined;
  return async () => {
    if (last && Date.now() - last.at < everyMs) return last.value;
    const value = retryingFromJournals(await listStepJournals(store, runId, succeeded), plan);
    last = { at: Date.now(), value };
    return value;
  };
}
