import { randomUUID } from 'node:crypto';
import { NativeConnection } from '@temporalio/worker';
import { connectClient } from './client/connect.ts';
import { OPGRAPH_SEARCH_ATTRIBUTES } from './searchAttributes.ts';
import { awaitRun, launchRun, type LaunchOptions } from './client/run.ts';
import type { JobResult } from './client/result.ts';
import { temporalTargetFromEnv, type TemporalTarget } from './connection.ts';
import { Definitions, type JobDefinition } from './dsl/job.ts';
import { type DevServer, type DevServerOptions, startDevServer } from './server/devServer.ts';
import { connectNative, createWorker } from './worker/createWorker.ts';
import { installRuntimeLogger } from './logging.ts';

let localServer: Promise<DevServer> | undefined;

/** One dev server per process, started on first use and stopped when the process exits. */
export function localDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  localServer ??= startDevServer({
    onNotice: (m) => console.error(`[opgraph] ${m}`),
    searchAttributes: OPGRAPH_SEARCH_ATTRIBUTES,
    ...options,
  }).catch((err: unknown) => {
    localServer = undefined;
    throw err;
  });
  return localServer;
}

export async function stopLocalDevServer(): Promise<void> {
  const server = localServer;
  localServer = undefined;
  if (server) await (await server).stop();
}

/** TEMPORAL_ADDRESS when set, otherwise this process's local dev server. */
export async function resolveTarget(): Promise<TemporalTarget> {
  const fromEnv = temporalTargetFromEnv();
  if (fromEnv) return fromEnv;
  const server = await localDevServer();
  return { address: server.address, namespace: server.namespace };
}

export interface ExecuteOptions extends Omit<LaunchOptions, 'taskQueue'> {
  /** Definitions the in-process worker serves; default: just this job. */
  definitions?: Definitions;
  /** Called once the run has started (e.g. to print its id). */
  onLaunched?: (run: { runId: string; workflowId: string }) => void;
}

/**
 * Runs a job to completion on a real Temporal server with a worker in this process:
 * TEMPORAL_ADDRESS when set, otherwise a local dev server started (once) for this process.
 */
export async function executeInProcess(job: JobDefinition, options: ExecuteOptions = {}): Promise<JobResult> {
  installRuntimeLogger();
  const target = await resolveTarget();
  const taskQueue = `opgraph-in-process-${randomUUID()}`;
  const native: NativeConnection = await connectNative(target.address);
  const client = await connectClient(target.address, target.namespace).catch(async (err: unknown) => {
    await native.close();
    throw err;
  });
  try {
    const worker = await createWorker({
      definitions: options.definitions ?? new Definitions({ jobs: [job] }),
      connection: native,
      namespace: target.namespace,
      taskQueue,
    });
    return await worker.runUntil(async () => {
      const run = await launchRun(client, job, { ...options, taskQueue });
      options.onLaunched?.(run);
      return awaitRun(run);
    });
  } finally {
    await client.connection.close();
    await native.close();
  }
}
