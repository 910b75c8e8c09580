/**
 * The progress a closed run's step records add up to, in the shape of the `progress` query's answer:
 * `opgraph status` shows it for a finished run without asking a worker (a query needs one to replay).
 */
import { parseDimensionId } from '../dsl/keys.ts';
import type { JobPlan } from '../dsl/plan.ts';
import type { StepRecord } from '../dsl/protocol.ts';
import type { NodeProgress, RunProgress } from '../engine/progress.ts';

const FIELD: Record<StepRecord['status'], keyof NodeProgress> = {
  SUCCESS: 'succeeded',
  FAILURE: 'failed',
  SKIPPED: 'skipped',
  ABANDONED: 'abandoned',
};

/** Counts per node, and per top-level map its keys (all done) and the keys with a failed step. */
export function progressOfRecords(
  job: string,
  runId: string,
  plan: JobPlan | undefined,
  steps: Readonly<Record<string, StepRecord>>,
): RunProgress {
  const progress: RunProgress = { job, runId, nodes: {}, dimensions: {} };
  for (const node of plan?.nodes ?? []) progress.nodes[node.id] = { running: 0, succeeded: 0, failed: 0, skipped: 0, abandoned: 0 };
  const records = Object.values(steps);
  for (const record of records) {
    const counts = (progress.nodes[record.node] ??= { running: 0, succeeded: 0, failed: 0, skipped: 0, abandoned: 0 });
    counts[FIELD[record.status]]++;
  }
  const topDims = new Set((plan?.nodes ?? []).flatMap((n) => (n.dim[0] === undefined ? [] : [n.dim[0]])));
  for (const dim of topDims) {
    const { node, output } = parseDimensionId(dim);
    const source = records.find((r) => r.node === node && r.mappingKeys.length === 0)?.outputs?.find((o) => o.name === output);
    const inDim = new Set((plan?.nodes ?? []).filter((n) => n.dim[0] === dim).map((n) => n.id));
    const keyed = records.filter((r) => inDim.has(r.node) && r.mappingKeys[0] !== undefined);
    const keys = new Set(keyed.map((r) => r.mappingKeys[0]));
    // No map ran when its fan-out op did not succeed: leave it out, as the live query does.
    if (!source && keys.size === 0) continue;
    const total = source?.kind === 'items' ? source.items.length : source?.kind === 'itemsRef' ? source.count : keys.size;
    const failed = new Set(keyed.filter((r) => r.status === 'FAILURE').map((r) => r.mappingKeys[0])).size;
    progress.dimensions[dim] = { total, running: 0, done: total, failed };
  }
  return progress;
}
