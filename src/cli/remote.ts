/** Commands against a long-lived server (TEMPORAL_ADDRESS): `launch`, `status`, `cancel`. */
import type { Client } from '@temporalio/client';
import { waitingText } from '../engine/redrive.ts';
import { reexecuteRun } from '../client/reexecute.ts';
import { decodeRawPayload } from '../codec/index.ts';
import { awaitRun, cancelRun, launchRun } from '../client/run.ts';
import { DEFAULT_TASK_QUEUE } from '../connection.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { JobWorkflowInput } from '../dsl/protocol.ts';
import { resolveRunConfig } from '../dsl/runConfig.ts';
import type { RunProgress } from '../engine/progress.ts';
import { getDefaultStore } from '../store/store.ts';
import { readRunConfigFile } from './config.ts';
import { getJob, loadDefinitions } from './definitions.ts';
import { errorMessage, EXIT } from './errors.ts';
import { type CliIO, printer, withTimeout } from './io.ts';
import { hasChildMaps, journalRetryReader, withJournalRetries } from './journalRetries.ts';
import { type PlanShape, progressItems, ttyLines } from './progress.ts';
import { progressOfRecords } from './recordProgress.ts';
import { resolveWorkflowId } from './runs.ts';
import { withClient } from './serverClient.ts';
import { requireServer, uiUrlFromEnv } from './server.ts';
import { resultLines, workflowUiUrl } from './summary.ts';

export interface LaunchCommandOptions {
  module: string;
  config?: string;
  taskQueue?: string;
}

/** Starts the job's workflow on TEMPORAL_ADDRESS; prints its workflow id (one line on stdout). */
export async function launchCommand(jobName: string, options: LaunchCommandOptions, io: CliIO): Promise<number> {
  requireServer(io.env, 'launch');
  const definitions = await loadDefinitions(options.module, io.cwd);
  const job = getJob(definitions, jobName, options.module);
  const runConfig = options.config === undefined ? undefined : readRunConfigFile(options.config, io.cwd);
  resolveRunConfig(job, runConfig);
  const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
  return withClient(io, 'launch', async (client, namespace) => {
    const run = await launchRun(client, job, { runConfig, taskQueue });
    printer(io.stdout)(run.workflowId);
    const err = printer(io.stderr);
    err(
      `Launched job ${job.name} (run ${run.runId}) on task queue "${taskQueue}"; a worker serving it must be running (\`opgraph worker\`).`,
    );
    err(`Follow it with: opgraph status ${run.workflowId}`);
    const uiUrl = uiUrlFromEnv(io.env);
    if (uiUrl) err(`Web UI: ${workflowUiUrl(uiUrl, namespace, run.workflowId)}`);
    return EXIT.ok;
  });
}

/** The plan a run started with: the job workflow's input, from the first history event. */
export async function fetchRunInput(client: Client, namespace: string, workflowId: string): Promise<JobWorkflowInput | undefined> {
  const response = await client.workflowService.getWorkflowExecutionHistory({ namespace, execution: { workflowId }, maximumPageSize: 1 });
  const payload = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) return undefined;
  const parsed = JobWorkflowInput.safeParse(await decodeRawPayload(client.options.loadedDataConverter, payload));
  return parsed.success ? parsed.data : undefined;
}

/** A stand-in plan from a progress snapshot alone (every node shown as a step). */
function snapshotPlan(progress: RunProgress): PlanShape {
  return { nodes: Object.keys(progress.nodes).map((id) => ({ id, dim: [] })) };
}

/**
 * Status via describe(); for a running run, progress via the `progress` query; for a closed run, its
 * result (read from the server: no worker needed) and the progress its step records add up to.
 * Exit code: 0 running or succeeded, 1 failed, cancelled, terminated or timed out.
 */
export async function statusCommand(id: string, io: CliIO): Promise<number> {
  const out = printer(io.stdout);
  return withClient(io, 'status', async (client, namespace) => {
    const workflowId = await resolveWorkflowId(client, namespace, id);
    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    const input = await fetchRunInput(client, namespace, workflowId).catch(() => undefined);
    const status = description.status.name;
    const runId = input?.runId ?? description.runId;
    out(`Workflow:   ${workflowId}`);
    out(`Job:        ${description.type} (run ${runId})`);
    out(`Status:     ${status}`);
    out(`Task queue: ${description.taskQueue}`);
    out(`Started:    ${description.startTime.toISOString()}`);
    if (description.closeTime) out(`Closed:     ${description.closeTime.toISOString()}`);
    const closed = status !== 'RUNNING' && status !== 'CONTINUED_AS_NEW';
    const result = closed
      ? await awaitRun({ jobName: description.type, runId, workflowId, handle, ...(input ? { plan: input.plan } : {}) })
      : undefined;
    let progress: RunProgress | undefined;
    if (result && result.status !== 'CANCELLED') {
      progress = progressOfRecords(description.type, runId, input?.plan, result.steps());
    } else {
      // Running, or cancelled (its result holds no steps): the workflow's own counts, which need a worker to answer.
      try {
        progress = await withTimeout(
          handle.query<RunProgress>('progress'),
          result ? 2_000 : 5_000,
          `no answer within ${result ? 2 : 5}s — is a worker serving its task queue?`,
        );
      } catch (err) {
        out(`Progress:   unavailable (${errorMessage(err)})`);
      }
      // Keys retrying inside their child workflows, from their step journals (src/cli/journalRetries.ts).
      if (progress && !result && input && hasChildMaps(input.plan)) {
        const retrying = await journalRetryReader(getDefaultStore(), runId, input.plan)().catch(() => undefined);
        if (retrying) progress = withJournalRetries(progress, retrying);
      }
    }
    if (progress) {
      out('Progress:');
      const plan = input?.plan ?? snapshotPlan(progress);
      // A cancelled run's last snapshot still counts what was running then: shown as cancelled / not started.
      const ended = status === 'CANCELLED' ? 'CANCELLED' : undefined;
      for (const line of ttyLines(progressItems(plan, progress, ended))) out(`  ${line}`);
      if (progress.waiting && !closed) {
        out(`Waiting:    ${waitingText(progress.waiting)}`);
        out(`            redrive: opgraph redrive ${workflowId} [--step-keys …] · end it: opgraph give-up ${workflowId}`);
      }
    }
    if (result) {
      out('Result:');
      for (const line of await resultLines(result)) out(`  ${line}`);
    }
    const uiUrl = uiUrlFromEnv(io.env);
    if (uiUrl) out(`Web UI: ${workflowUiUrl(uiUrl, namespace, workflowId)}`);
    return closed && status !== 'COMPLETED' ? EXIT.failed : EXIT.ok;
  });
}

export interface ReexecuteCommandOptions {
  fromFailure?: boolean;
  stepKeys?: string[];
  taskQueue?: string;
  wait: boolean;
}

/**
 * Starts a re-execution of an ended run (src/client/reexecute.ts) and prints its workflow id; with
 * --wait (the default) follows it to the end and prints its result, with how many steps it took over.
 */
export async function reexecuteCommand(id: string, options: ReexecuteCommandOptions, io: CliIO): Promise<number> {
  const out = printer(io.stdout);
  const err = printer(io.stderr);
  return withClient(io, 'reexecute', async (client, namespace) => {
    const workflowId = await resolveWorkflowId(client, namespace, id);
    const started = Date.now();
    const run = await reexecuteRun(client, workflowId, {
      ...(options.fromFailure ? { fromFailure: true } : {}),
      ...(options.stepKeys ? { stepKeys: options.stepKeys } : {}),
      ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
    });
    out(run.workflowId);
    err(
      `Re-executing ${workflowId}: ${run.reused} succeeded step(s) taken over, the rest run again (a worker serving the job must be running).`,
    );
    const uiUrl = uiUrlFromEnv(io.env);
    if (uiUrl) err(`Web UI: ${workflowUiUrl(uiUrl, namespace, run.workflowId)}`);
    if (!options.wait) {
      err(`Follow it with: opgraph status ${run.workflowId}`);
      return EXIT.ok;
    }
    const result = await awaitRun(run);
    for (const line of await resultLines(result, Date.now() - started)) err(line);
    err(`Reused ${result.reusedStepKeys().length} step(s) from ${workflowId}; ran ${result.ranStepKeys().length}.`);
    return result.success ? EXIT.ok : EXIT.failed;
  });
}

/** Requests cancellation: running ops see ctx.signal, the run ends CANCELLED. */
export async function cancelCommand(id: string, io: CliIO): Promise<number> {
  return withClient(io, 'cancel', async (client, namespace) => {
    const workflowId = await resolveWorkflowId(client, namespace, id);
    const description = await client.workflow.getHandle(workflowId).describe();
    if (description.status.name !== 'RUNNING') {
      throw new OpgraphError(`workflow ${workflowId} is not running (status ${description.status.name}); nothing to cancel`);
    }
    await cancelRun(client, workflowId);
    printer(io.stdout)(`Cancellation requested for ${workflowId}; its running ops are cancelled and the run ends CANCELLED.`);
    return EXIT.ok;
  });
}
