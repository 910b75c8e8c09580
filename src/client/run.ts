import { randomUUID } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, type Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { DEFAULT_TASK_QUEUE } from '../connection.ts';
import { SEARCH_ATTRIBUTES } from '../dsl/constants.ts';
import { hasOpgraphSearchAttributes, hasParentRunAttribute } from '../searchAttributes.ts';
import type { JobDefinition } from '../dsl/job.ts';
import type { JobPlan } from '../dsl/plan.ts';
import { FailureType, JobWorkflowInput, type Reexecution, ScopeResult } from '../dsl/protocol.ts';
import { type ResolvedRunConfig, resolveRunConfig, type RunConfig } from '../dsl/runConfig.ts';
import { loadPart } from '../store/store.ts';
import { JobResult } from './result.ts';

export interface LaunchOptions {
  runConfig?: RunConfig;
  /** Default: a fresh UUID. */
  runId?: string;
  /** Default: `<job>-<runId>`. */
  workflowId?: string;
  taskQueue?: string;
}

export interface LaunchedRun {
  readonly jobName: string;
  readonly runId: string;
  readonly workflowId: string;
  readonly handle: WorkflowHandle;
  /** The plan the run started with; without it, `JobResult.outputFor` cannot resolve graph nodes. */
  readonly plan?: JobPlan;
}

export function jobWorkflowId(jobName: string, runId: string): string {
  return `${jobName}-${runId}`;
}

/** Validates run config, then starts the job's workflow (type = job name). Does not wait for it. */
export async function launchRun(client: Client, job: JobDefinition, options: LaunchOptions = {}): Promise<LaunchedRun> {
  return launchPlan(client, job.plan, resolveRunConfig(job, options.runConfig), options);
}

/** What a re-execution adds to its run: the parent and the records taken over (src/client/reexecute.ts). */
export interface RunLineage {
  readonly reexecution: Reexecution;
  readonly reused: number;
}

/** Starts a run of a plan with resolved run config (a job's, or a parent run's for a re-execution). */
export async function launchPlan(
  client: Client,
  plan: JobPlan,
  runConfig: ResolvedRunConfig,
  options: Omit<LaunchOptions, 'runConfig'> = {},
  lineage?: RunLineage,
): Promise<LaunchedRun> {
  const runId = options.runId ?? randomUUID();
  const workflowId = options.workflowId ?? jobWorkflowId(plan.job, runId);
  // Validated here, on the Node side: the workflow only checks shapes (see src/workflows/guards.ts).
  const searchAttributes = await hasOpgraphSearchAttributes(client);
  const input = JobWorkflowInput.parse({
    kind: 'job',
    runId,
    plan,
    runConfig,
    searchAttributes,
    ...(lineage ? { reexecution: lineage.reexecution } : {}),
  });
  const parent = lineage?.reexecution.parentWorkflowId;
  const keyword = (name: string, value: string) => ({ key: defineSearchAttributeKey(name, SearchAttributeType.KEYWORD), value });
  const handle = await client.workflow.start(plan.job, {
    ...(searchAttributes
      ? {
          typedSearchAttributes: [
            keyword(SEARCH_ATTRIBUTES.job, plan.job),
            keyword(SEARCH_ATTRIBUTES.runId, runId),
            ...(parent && (await hasParentRunAttribute(client)) ? [keyword(SEARCH_ATTRIBUTES.parentRun, parent)] : []),
          ],
        }
      : {}),
    ...(lineage
      ? { memo: { [PARENT_RUN_MEMO]: { workflowId: parent, runId: lineage.reexecution.parentRunId, reused: lineage.reused } } }
      : {}),
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowId,
    args: [input],
    staticSummary: parent ? `opgraph job ${plan.job} · run ${runId} · re-executes ${parent}` : `opgraph job ${plan.job} · run ${runId}`,
  });
  return { jobName: plan.job, runId, workflowId, handle, plan };
}

/** Memo field of a re-execution: `{ workflowId, runId, reused }` of its parent run. */
export const PARENT_RUN_MEMO = 'opgraphParentRun';

/** Waits for a launched run and turns its outcome (success or failure) into a JobResult. */
export async function awaitRun(run: LaunchedRun): Promise<JobResult> {
  try {
    const raw: unknown = await run.handle.result();
    return new JobResult(run.jobName, run.runId, run.workflowId, 'SUCCESS', await withParts(ScopeResult.parse(raw)), undefined, run.plan);
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type === FailureType.RunFailed) {
      const parsed = ScopeResult.safeParse(cause.details?.[0]);
      if (parsed.success) {
        return new JobResult(run.jobName, run.runId, run.workflowId, 'FAILURE', await withParts(parsed.data), undefined, run.plan);
      }
    }
    const status = cause instanceof CancelledFailure ? 'CANCELLED' : 'FAILURE';
    return new JobResult(
      run.jobName,
      run.runId,
      run.workflowId,
      status,
      { steps: {} },
      {
        type: cause?.name ?? 'WorkflowFailed',
        message: cause?.message ?? err.message,
      },
      run.plan,
    );
  }
}

/** Launches a run and waits for its result. */
export async function runJob(client: Client, job: JobDefinition, options: LaunchOptions = {}): Promise<JobResult> {
  return awaitRun(await launchRun(client, job, options));
}

/**
 * Requests cancellation of a run: the job workflow cancels its children and running ops
 * (each op's `ctx.signal` fires), then ends CANCELLED.
 */
export async function cancelRun(client: Client, workflowId: string): Promise<void> {
  await client.workflow.getHandle(workflowId).cancel();
}

/** A large run's deeper step records are stored in parts: load them, in order, into one result. */
async function withParts(result: ScopeResult): Promise<ScopeResult> {
  if (!result.parts?.length) return result;
  const steps = { ...result.steps };
  for (const part of result.parts) Object.assign(steps, (await loadPart(part)).steps);
  return { steps, ...(result.failures ? { failures: result.failures } : {}) };
}
