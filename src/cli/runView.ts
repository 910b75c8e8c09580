/**
 * A run as the run graph shows it: every step key's state, attempts, error and log count, and per
 * node a state and counts. Read without changing what workflows do: the run's plan from its first
 * history event, live counts from the `progress` query, final records once it closed, and the
 * step journals the op runner writes to the store (src/store/stepLogs.ts).
 *
 * `buildRunView` is pure (for tests); `fetchRunView` gathers its inputs.
 */
import type { Client } from '@temporalio/client';
import { awaitRun } from '../client/run.ts';
import type { JobPlan } from '../dsl/plan.ts';
import type { StepError, StepRecord } from '../dsl/protocol.ts';
import type { NodeProgress, RunProgress } from '../engine/progress.ts';
import { getDefaultStore } from '../store/store.ts';
import { listStepJournals, type StepJournal } from '../store/stepLogs.ts';
import type { ValueStore } from '../store/types.ts';
import { withTimeout } from './io.ts';
import { type GraphDecorations, type NodeDecoration, type NodeState } from './nodeStates.ts';
import { fetchRunInput } from './remote.ts';

/** Temporal's execution status names (describe().status.name). */
export type WorkflowStatus = string;

export interface StepView {
  stepKey: string;
  node: string;
  mappingKeys: string[];
  state: NodeState;
  attempts: number;
  error?: StepError;
  logLines: number;
  /** Where its last attempt ran (absent for steps that never ran, e.g. skipped). */
  workflowId?: string;
  workflowRunId?: string;
  activityId?: string;
  startedAt?: number;
  endedAt?: number;
}

export interface RunView {
  workflowId: string;
  runId: string;
  job: string;
  status: WorkflowStatus;
  startTime?: string;
  closeTime?: string;
  nodes: GraphDecorations;
  steps: StepView[];
}

export interface RunViewInput {
  workflowId: string;
  runId: string;
  plan: JobPlan;
  status: WorkflowStatus;
  startTime?: string;
  closeTime?: string;
  /** The `progress` query's answer (live runs). */
  progress?: RunProgress;
  /** Final step records (closed runs). */
  records?: Readonly<Record<string, StepRecord>>;
  journals: readonly StepJournal[];
}

const RECORD_STATE: Record<string, NodeState> = {
  SUCCESS: 'succeeded',
  FAILURE: 'failed',
  SKIPPED: 'skipped',
  ABANDONED: 'abandoned',
  WAITING: 'waiting',
};

/** Which state wins when a node's steps differ: what needs attention first. */
const PRECEDENCE: readonly NodeState[] = [
  'failed',
  'retrying',
  'waiting',
  'running',
  'cancelled',
  'succeeded',
  'abandoned',
  'skipped',
  'pending',
];

export function buildRunView(input: RunViewInput): RunView {
  const live = input.status === 'RUNNING';
  const waitingKeys = new Set(input.progress?.waiting?.stepKeys ?? []);
  const journals = new Map(input.journals.map((j) => [j.stepKey, j]));
  const keys = new Set([...Object.keys(input.records ?? {}), ...journals.keys()]);
  const steps: StepView[] = [];
  for (const stepKey of keys) {
    const record = input.records?.[stepKey];
    const journal = journals.get(stepKey);
    // The attempt that ran last (a redriven key starts again at attempt 1).
    const last = journal?.attempts[journal.attempts.length - 1];
    let state: NodeState;
    if (record) state = RECORD_STATE[record.status] ?? (record.status.toLowerCase() as NodeState);
    else if (!last) state = 'pending';
    else if (last.state === 'running') state = last.attempt > 1 ? 'retrying' : 'running';
    else if (last.state === 'failed') state = last.willRetry ? 'retrying' : 'failed';
    else state = last.state;
    // A closed run has nothing running any more: what was, was cut short.
    if (!live && (state === 'running' || state === 'retrying')) state = 'cancelled';
    // Failed for good, but the job waits for a redrive (onStepFailure 'wait'): the progress lists it.
    if (live && state === 'failed' && !record && waitingKeys.has(stepKey)) state = 'waiting';
    const node = record?.node ?? journal?.node ?? stepKey.replace(/\[.*$/, '');
    const view: StepView = {
      stepKey,
      node,
      mappingKeys: record?.mappingKeys ?? journal?.mappingKeys ?? [],
      state,
      attempts: record?.attempts ?? last?.attempt ?? 0,
      logLines: journal?.attempts.reduce((n, a) => n + a.logs.length + a.droppedLines, 0) ?? 0,
    };
    const error = record?.error ?? (state === 'failed' || state === 'retrying' ? last?.error : undefined);
    if (error) view.error = error;
    if (last) {
      Object.assign(view, {
        workflowId: last.workflowId,
        workflowRunId: last.workflowRunId,
        activityId: last.activityId,
        startedAt: last.startedAt,
      });
      if (last.endedAt !== undefined) view.endedAt = last.endedAt;
    }
    steps.push(view);
  }
  const order = new Map(input.plan.nodes.map((n, i) => [n.id, i]));
  steps.sort(
    (a, b) => (order.get(a.node) ?? 0) - (order.get(b.node) ?? 0) || a.stepKey.localeCompare(b.stepKey, undefined, { numeric: true }),
  );

  const nodes: Record<string, NodeDecoration> = {};
  for (const planNode of input.plan.nodes) {
    // Steps waiting for a redrive beyond those the progress lists by key: the node's latest failed ones.
    const waitingCount = live ? (input.progress?.nodes[planNode.id]?.waiting ?? 0) : 0;
    const own = steps.filter((step) => step.node === planNode.id);
    const unlisted = waitingCount - own.filter((step) => step.state === 'waiting').length;
    if (unlisted > 0) {
      const failed = own.filter((step) => step.state === 'failed' && !input.records?.[step.stepKey]);
      failed.sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0));
      for (const step of failed.slice(0, unlisted)) step.state = 'waiting';
    }
    const counts: Partial<Record<NodeState, number>> = {};
    for (const step of own) counts[step.state] = (counts[step.state] ?? 0) + 1;
    // Steps that never ran an attempt (skipped, abandoned, parked) are only counted by the workflow while it runs.
    const progress: NodeProgress | undefined = live ? input.progress?.nodes[planNode.id] : undefined;
    if (progress) {
      counts.skipped = Math.max(counts.skipped ?? 0, progress.skipped);
      counts.abandoned = Math.max(counts.abandoned ?? 0, progress.abandoned);
      for (const state of ['skipped', 'abandoned'] as const) if (counts[state] === 0) delete counts[state];
    }
    const mapped = planNode.dim.length > 0;
    let state = PRECEDENCE.find((s) => (counts[s] ?? 0) > 0) ?? 'pending';
    // A map still yielding or running keys is not done because its first keys are.
    if (live && mapped && state === 'succeeded' && !mapDone(input.progress, planNode.dim[0])) state = 'running';
    // Doomed by a failure upstream (through a collect): it will never run, though its record comes only at the end.
    if (live && state === 'pending' && input.progress?.doomed?.includes(planNode.id)) state = 'abandoned';
    nodes[planNode.id] = { state, counts, mapped };
  }
  const view: RunView = { workflowId: input.workflowId, runId: input.runId, job: input.plan.job, status: input.status, nodes, steps };
  if (input.startTime) view.startTime = input.startTime;
  if (input.closeTime) view.closeTime = input.closeTime;
  return view;
}

function mapDone(progress: RunProgress | undefined, dim: string | undefined): boolean {
  if (!progress || dim === undefined) return false;
  const stages = Object.entries(progress.dimensions).filter(([label]) => label === dim || label.startsWith(`${dim} (stage `));
  return stages.length > 0 && stages.every(([, d]) => d.done >= d.total && d.running === 0);
}

export interface FetchedRun {
  view: RunView;
  plan: JobPlan;
}

/** Reads a run's state from the server and the store. Throws when the workflow is not an opgraph job run. */
export async function fetchRunView(
  client: Client,
  namespace: string,
  workflowId: string,
  store: ValueStore = getDefaultStore(),
  known?: { plan: JobPlan; runId: string; succeededJournals?: Map<string, StepJournal> },
): Promise<FetchedRun> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  let plan = known?.plan;
  let runId = known?.runId;
  if (!plan || !runId) {
    const input = await fetchRunInput(client, namespace, workflowId);
    if (!input) throw new Error(`workflow ${workflowId} is not an opgraph job run (its input is not a job's)`);
    plan = input.plan;
    runId = input.runId;
  }
  const status = description.status.name;
  let progress: RunProgress | undefined;
  let records: Readonly<Record<string, StepRecord>> | undefined;
  if (status === 'RUNNING') {
    progress = await withTimeout(handle.query<RunProgress>('progress'), 3_000, 'progress query timed out').catch(() => undefined);
  } else {
    const result = await awaitRun({ jobName: plan.job, runId, workflowId, handle, plan });
    records = result.steps();
  }
  const journals = await listStepJournals(store, runId, known?.succeededJournals);
  const view = buildRunView({
    workflowId,
    runId,
    plan,
    status,
    startTime: description.startTime.toISOString(),
    ...(description.closeTime ? { closeTime: description.closeTime.toISOString() } : {}),
    ...(progress ? { progress } : {}),
    ...(records ? { records } : {}),
    journals,
  });
  return { view, plan };
}
