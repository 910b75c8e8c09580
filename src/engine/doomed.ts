/**
 * Steps doomed by a failure: nodes that will never run in this run because a mapped step failed for
 * good and they collect from its map (directly or through the key's later steps), or consume what
 * such a node would make. Known as soon as the step fails, so progress can show them abandoned
 * before the run's other keys end. Conservative: a map with `toleratedFailures` dooms nothing (its
 * collect may still run), nor does a job with onStepFailure 'wait' (its failed steps wait for a
 * redrive: what follows is waiting, not doomed). Failures of unmapped steps need nothing here: their
 * consumers are abandoned by the interpreter at once.
 */
import type { InputSource, JobPlan, PlanNode } from '../dsl/plan.ts';

function sourcesOf(source: InputSource): string[] {
  switch (source.kind) {
    case 'output':
    case 'item':
    case 'collect':
      return [source.node];
    case 'fanin':
      return source.sources.map((s) => s.node);
    case 'config':
      return [];
  }
}

/** Node ids that can no longer run once a step of `failedNode` failed for good (empty when none, or unknowable). */
export function doomedNodes(plan: JobPlan, failedNode: string): string[] {
  if (plan.onStepFailure?.mode === 'wait') return [];
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));
  const failed = byId.get(failedNode);
  if (!failed || failed.dim.length === 0) return [];
  const consumers = (id: string): PlanNode[] => plan.nodes.filter((n) => n.inputs.some((input) => sourcesOf(input.source).includes(id)));
  const tolerates = (node: PlanNode) => node.dim.some((dim) => plan.dimensions?.[dim]?.toleratedFailures !== undefined);
  if (tolerates(failed)) return [];
  const doomed = new Set<string>();
  // Same key, later steps (abandoned in that key only): follow them until a consumer leaves the map.
  const perKey = new Set<string>([failedNode]);
  const queue = [failedNode];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    const from = byId.get(id) as PlanNode;
    for (const next of consumers(id)) {
      const whole = doomed.has(id) || next.dim.length < from.dim.length;
      if (whole && !doomed.has(next.id)) {
        doomed.add(next.id);
        queue.push(next.id);
      } else if (!whole && !perKey.has(next.id)) {
        if (tolerates(next)) continue;
        perKey.add(next.id);
        queue.push(next.id);
      }
    }
  }
  return [...doomed];
}
