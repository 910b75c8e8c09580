/**
 * `opgraph run <job>`: runs a job to completion with live progress, then prints the result and the
 * Web UI link. Without TEMPORAL_ADDRESS it starts a local dev server (with the UI) for the command;
 * unless --no-worker, a worker in this process serves the run on its own task queue.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { connectClient } from '../client/connect.ts';
import type { JobResult } from '../client/result.ts';
import { awaitRun, cancelRun, launchRun, type LaunchedRun } from '../client/run.ts';
import { DEFAULT_TASK_QUEUE, temporalTargetFromEnv } from '../connection.ts';
import type { JobPlan } from '../dsl/plan.ts';
import { resolveRunConfig } from '../dsl/runConfig.ts';
import { connectNative, createWorker } from '../worker/createWorker.ts';
import type { RunProgress } from '../engine/progress.ts';
import { getDefaultStore } from '../store/store.ts';
import { readRunConfigFile } from './config.ts';
import { getJob, loadDefinitions } from './definitions.ts';
import { errorMessage, EXIT, UsageError } from './errors.ts';
import { type CliIO, printer, withTimeout } from './io.ts';
import { hasChildMaps, journalRetryReader, withJournalRetries } from './journalRetries.ts';
import { createProgressView, plainMode, watchProgress } from './progress.ts';
import { installCliRuntime, openTarget, type CliTarget } from './server.ts';
import { runLogLines } from './runViewCommands.ts';
import { resultLines, workflowUiUrl } from './summary.ts';

export interface RunCommandOptions {
  module: string;
  config?: string;
  taskQueue?: string;
  /** false with --no-worker: a separate `opgraph worker` serves the task queue. */
  worker: boolean;
  /** Embedded server only: keep server and worker up after the run, for the Web UI, until Ctrl+C. */
  keepServer?: boolean;
  /** Print every step's log lines at the end (failed steps' are always printed). */
  verbose?: boolean;
}

const QUERY_TIMEOUT_MS = 5_000;

export async function runCommand(jobName: string, options: RunCommandOptions, io: CliIO): Promise<number> {
  const out = printer(io.stdout);
  const err = printer(io.stderr);
  // Everything that can be wrong with the command line fails here, before any server starts.
  const definitions = await loadDefinitions(options.module, io.cwd);
  const job = getJob(definitions, jobName, options.module);
  const runConfig = options.config === undefined ? undefined : readRunConfigFile(options.config, io.cwd);
  resolveRunConfig(job, runConfig);
  if (!options.worker && !temporalTargetFromEnv(io.env)) {
    throw new UsageError('--no-worker needs TEMPORAL_ADDRESS: the run goes to that server, where `opgraph worker` serves it.');
  }
  // Failed ops are summarized at the end; the worker's own WARN logs of them would repeat that with stacks.
  installCliRuntime({ ownSignals: true, defaultLevel: 'ERROR' });

  const interrupts = new InterruptHandler(err);
  let target: CliTarget | undefined;
  let client: Client | undefined;
  let native: NativeConnection | undefined;
  try {
    target = await openTarget(io.env, err);
    interrupts.target = target;
    client = await connectClient(target.address, target.namespace);
    interrupts.client = client;
    const taskQueue =
      options.taskQueue ?? (options.worker ? `opgraph-cli-${randomUUID()}` : io.env.OPGRAPH_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE);
    const connectedTarget = target;
    const connectedClient = client;

    const execute = async (): Promise<JobResult> => {
      const started = Date.now();
      const run = await launchRun(connectedClient, job, { runConfig, taskQueue });
      interrupts.run = run;
      const link = connectedTarget.uiUrl ? workflowUiUrl(connectedTarget.uiUrl, connectedTarget.namespace, run.workflowId) : undefined;
      err(`Running job ${job.name} as workflow ${run.workflowId} (task queue "${taskQueue}")`);
      if (link) err(`Web UI: ${link}`);

      const result = await followRun(run, job.plan, io);
      interrupts.run = undefined;
      for (const line of await resultLines(result, Date.now() - started)) out(line);
      for (const line of await runLogLines(result, options.verbose ?? false)) out(line);
      if (link) out(`Web UI: ${link}`);
      else err('(set TEMPORAL_UI_URL to the Web UI base URL to get a link to the run)');
      if (connectedTarget.embedded) {
        if (options.keepServer) {
          err(`The dev server stays up for the Web UI at ${connectedTarget.uiUrl ?? '?'}; press Ctrl+C to stop.`);
          await interrupts.next();
        } else {
          err(
            '(the embedded dev server stops now; pass --keep-server, or use `opgraph dev` + TEMPORAL_ADDRESS, to browse the run afterwards)',
          );
        }
      }
      return result;
    };

    let result: JobResult;
    if (options.worker) {
      err(`Starting a worker in this process for ${definitions.jobs.size} job(s) …`);
      native = await connectNative(target.address);
      const worker = await createWorker({ definitions, connection: native, namespace: target.namespace, taskQueue });
      result = await worker.runUntil(execute);
    } else {
      result = await execute();
    }
    return result.success ? EXIT.ok : EXIT.failed;
  } finally {
    interrupts.dispose();
    await client?.connection.close().catch(() => undefined);
    await native?.close().catch(() => undefined);
    await target?.stop();
  }
}

/** Shows live progress until the run ends, draws the final state, returns the result. */
async function followRun(run: LaunchedRun, plan: JobPlan, io: CliIO): Promise<JobResult> {
  const plain = plainMode(io.stderr, io.env);
  // Keys retrying inside their child workflows are named from their step journals (src/cli/journalRetries.ts).
  const retries = hasChildMaps(plan) ? journalRetryReader(getDefaultStore(), run.runId, plan) : undefined;
  const query = async (): Promise<RunProgress> => {
    const progress = await withTimeout(run.handle.query<RunProgress>('progress'), QUERY_TIMEOUT_MS, 'progress query timed out');
    const fromJournals = await retries?.().catch(() => undefined);
    return fromJournals ? withJournalRetries(progress, fromJournals) : progress;
  };
  const view = createProgressView(io.stderr, plan, `${run.jobName} · run ${run.runId}`, { plain });
  const watcher = watchProgress(query, view, plain ? 500 : 250);
  let result: JobResult;
  let last: RunProgress | undefined;
  try {
    result = await awaitRun(run);
  } finally {
    last = await watcher.stop();
  }
  const final = await query().catch(() => last);
  view.finish(final, result.status);
  return result;
}

/**
 * Ctrl+C (SIGINT/SIGTERM) during `run`: against an external server, the first one cancels the
 * run (ops see ctx.signal and clean up; the run ends CANCELLED, exit 1) and the second stops
 * waiting. With the embedded server — which the terminal interrupted too — or before the run
 * started, it exits at once (130).
 */
class InterruptHandler {
  target: CliTarget | undefined;
  client: Client | undefined;
  run: LaunchedRun | undefined;
  private cancelling = false;
  private waiter: (() => void) | undefined;
  private readonly handler = (): void => this.onSignal();

  constructor(private readonly err: (line: string) => void) {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  /** Resolves on the next Ctrl+C instead of exiting (for --keep-server). */
  next(): Promise<void> {
    const keepAlive = setInterval(() => {}, 1 << 30);
    return new Promise<void>((resolve) => (this.waiter = resolve)).finally(() => clearInterval(keepAlive));
  }

  private onSignal(): void {
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = undefined;
      resolve();
      return;
    }
    const { run, client, target } = this;
    if (run && client && target && !target.embedded && !this.cancelling) {
      this.cancelling = true;
      this.err(`\nCancelling run ${run.workflowId} … (Ctrl+C again to stop waiting)`);
      cancelRun(client, run.workflowId).catch((e: unknown) => this.err(`could not cancel ${run.workflowId}: ${errorMessage(e)}`));
      return;
    }
    this.err('\nInterrupted.');
    process.exit(130);
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}
