import { defineQuery, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { ProgressCounter, progressMarkdown, type RunProgress } from '../engine/progress.ts';

export type { DimensionProgress, NodeProgress, RunProgress } from '../engine/progress.ts';

/** `progress` query: what `opgraph status` and the CLI's live view read. */
export const progressQuery = defineQuery<RunProgress>('progress');

/** A scope workflow's counts, served by the `progress` query and shown as the UI's current details. */
export function progressTracker(job: string, runId: string, nodeIds: readonly string[]): ProgressCounter {
  const counter = new ProgressCounter(job, runId, nodeIds, (state) => setCurrentDetails(progressMarkdown(state)));
  setHandler(progressQuery, () => counter.state);
  return counter;
}
