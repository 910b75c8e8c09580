/** Shared pieces of the benchmarks: a dev server, workers, timing, history and memory probes. */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { awaitRun, launchRun } from '../src/client/run.ts';
import type { JobResult } from '../src/client/result.ts';
import { Definitions, type JobDefinition } from '../src/dsl/job.ts';
import type { RunConfig } from '../src/dsl/runConfig.ts';
import { installRuntimeLogger } from '../src/logging.ts';
import { startCluster, type TemporalCluster } from '../src/server/cluster.ts';
import { type DevServer, startDevServer } from '../src/server/devServer.ts';
import { createWorker, type CreateWorkerOptions } from '../src/worker/createWorker.ts';
import { withoutWorkflowStackTraces } from '../src/worker/stackTraces.ts';

export type BenchServerKind = 'dev' | 'cluster' | 'address';

export interface BenchEnv {
  /** Which server the rows were measured on: `dev` (temporal server start-dev, SQLite), `cluster` (src/server/cluster.ts, PostgreSQL) or `address`. */
  kind: BenchServerKind;
  server: DevServer | undefined;
  cluster: TemporalCluster | undefined;
  address: string;
  client: Client;
  native: NativeConnection;
  close(): Promise<void>;
}

/**
 * A server to measure on: `address` (TEMPORAL_ADDRESS or `address`), a fresh headless dev server (SQLite in memory,
 * WAL pragmas), or a fresh `opgraph cluster` (the Temporal server on PostgreSQL, 4 history shards).
 * Default: TEMPORAL_ADDRESS when set, else a dev server.
 */
export async function benchEnv(kind?: BenchServerKind, explicitAddress?: string): Promise<BenchEnv> {
  installRuntimeLogger('ERROR');
  const chosen: BenchServerKind = kind ?? (explicitAddress || process.env.TEMPORAL_ADDRESS ? 'address' : 'dev');
  let server: DevServer | undefined;
  let cluster: TemporalCluster | undefined;
  let address: string;
  if (chosen === 'dev') {
    server = await startDevServer({ onNotice: (m) => console.error(m) });
    address = server.address;
  } else if (chosen === 'cluster') {
    cluster = await startCluster({ onProgress: (line) => console.error(`[cluster] ${line}`) });
    address = cluster.address;
  } else {
    const given = explicitAddress ?? process.env.TEMPORAL_ADDRESS;
    if (!given) throw new Error('bench: --servers address needs --address host:port or TEMPORAL_ADDRESS');
    address = given;
  }
  const native = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  return {
    kind: chosen,
    server,
    cluster,
    address,
    client: new Client({ connection }),
    native,
    async close() {
      await connection.close();
      await native.close();
      await server?.stop();
      await cluster?.stop();
    },
  };
}

/** Peak resident memory of this process while `body` runs, sampled every 100 ms. */
export async function withPeakRss<T>(body: () => Promise<T>): Promise<{ value: T; peakRssMiB: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  try {
    const value = await body();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakRssMiB: Math.round(peak / 1024 / 1024) };
  } finally {
    clearInterval(timer);
  }
}

export interface OpgraphRun {
  seconds: number;
  result: JobResult;
  workflowId: string;
  peakRssMiB: number;
}

/** Runs a job with an in-process worker; seconds = submit to result. */
export async function runOpgraph(
  env: BenchEnv,
  job: JobDefinition,
  runConfig?: RunConfig,
  workerOptions: Partial<Omit<CreateWorkerOptions, 'definitions'>> = {},
): Promise<OpgraphRun> {
  const taskQueue = `bench-${randomUUID()}`;
  const worker = await createWorker({ definitions: new Definitions({ jobs: [job] }), connection: env.native, taskQueue, ...workerOptions });
  return worker.runUntil(async () => {
    const started = performance.now();
    const run = await launchRun(env.client, job, { taskQueue, ...(runConfig ? { runConfig } : {}) });
    // Peak RSS while the worker runs the job, before this process loads the result's step records.
    const { peakRssMiB } = await withPeakRss(() => run.handle.result().catch(() => undefined));
    const seconds = (performance.now() - started) / 1000;
    return { seconds, result: await awaitRun(run), workflowId: run.workflowId, peakRssMiB };
  });
}

/**
 * Runs a job `times` times, one after the other, on one in-process worker: the first run pays the
 * fresh worker's warm-up (its first workflow tasks evaluate the interpreter bundle), the later ones
 * show what a long-lived worker does. seconds = submit to result, per run.
 */
export async function runOpgraphSeries(
  env: BenchEnv,
  job: JobDefinition,
  times: number,
  runConfig?: RunConfig,
): Promise<{ seconds: number[]; workflowIds: string[] }> {
  const taskQueue = `bench-${randomUUID()}`;
  const worker = await createWorker({ definitions: new Definitions({ jobs: [job] }), connection: env.native, taskQueue });
  return worker.runUntil(async () => {
    const seconds: number[] = [];
    const workflowIds: string[] = [];
    for (let i = 0; i < times; i++) {
      const started = performance.now();
      const run = await launchRun(env.client, job, { taskQueue, ...(runConfig ? { runConfig } : {}) });
      const result = await awaitRun(run);
      seconds.push((performance.now() - started) / 1000);
      workflowIds.push(run.workflowId);
      if (!result.success) throw new Error(`${job.name} run ${i + 1} failed: ${JSON.stringify(result.failures.slice(0, 3))}`);
    }
    return { seconds, workflowIds };
  });
}

/** The longest history (in events) of the job workflow and every workflow below it. */
export async function longestHistory(
  env: BenchEnv,
  rootWorkflowId: string,
): Promise<{ events: number; workflows: number; workflowId: string }> {
  let longest = { events: 0, workflows: 0, workflowId: '' };
  let count = 0;
  for await (const wf of env.client.workflow.list({ query: `RootWorkflowId = '${rootWorkflowId}'` })) {
    count++;
    const events = wf.historyLength ?? 0;
    if (events > longest.events) longest = { events, workflows: 0, workflowId: wf.workflowId };
  }
  return { ...longest, workflows: count };
}

/** Runs the hand-written baseline (parent + one child per key, window 500, one activity each). */
export async function runBaseline(env: BenchEnv, n: number, window = 500): Promise<{ seconds: number; sum: number }> {
  const taskQueue = `baseline-${randomUUID()}`;
  // The same sandbox setting opgraph's workers use (no per-promise stack capture), so the baseline is the
  // fastest hand-written Temporal code, not a slower one (bench/RESULTS.md, "Workflow CPU per key").
  const worker = await withoutWorkflowStackTraces(process.env, async () =>
    Worker.create({
      connection: env.native,
      taskQueue,
      workflowsPath: new URL('./baseline/workflows.ts', import.meta.url).pathname,
      activities: await import('./baseline/activities.ts'),
    }),
  );
  return worker.runUntil(async () => {
    const started = performance.now();
    const sum = await env.client.workflow.execute('baselineParent', {
      taskQueue,
      workflowId: `baseline-${randomUUID()}`,
      args: [n, window],
    });
    return { seconds: (performance.now() - started) / 1000, sum: sum as number };
  });
}
