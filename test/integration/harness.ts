import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NativeConnection } from '@temporalio/worker';
import { installRuntimeLogger } from '../../src/logging.ts';
import { afterAll, beforeAll, inject } from 'vitest';
import { awaitRun, launchRun, type LaunchedRun, type LaunchOptions } from '../../src/client/run.ts';
import type { JobResult } from '../../src/client/result.ts';
import { Definitions, job, type JobDefinition } from '../../src/dsl/job.ts';
import { createWorker, type CreateWorkerOptions } from '../../src/worker/createWorker.ts';

/** Connections to the suite's one dev server, and helpers that run jobs with an in-process worker. */
export class TemporalHarness {
  readonly client: Client;
  private readonly native: NativeConnection;

  private constructor(private readonly env: TestWorkflowEnvironment) {
    this.client = env.client;
    this.native = env.nativeConnection;
  }

  /** The SDK's test environment on the suite's own server (test/setup/temporal.ts starts it). */
  static async connect(): Promise<TemporalHarness> {
    installRuntimeLogger();
    return new TemporalHarness(await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') }));
  }

  /** Runs `body` while a worker serving `jobs` polls a fresh task queue. */
  async withWorker<T>(
    jobs: readonly JobDefinition[],
    body: (taskQueue: string) => Promise<T>,
    workerOptions: Partial<CreateWorkerOptions> = {},
  ): Promise<T> {
    const taskQueue = `test-${randomUUID()}`;
    const worker = await createWorker({
      ...workerOptions,
      definitions: new Definitions({ jobs }),
      connection: this.native,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    return worker.runUntil(body(taskQueue));
  }

  /** Launches `job` and waits for its result, with a worker running for the duration. */
  async run(job: JobDefinition, options: Omit<LaunchOptions, 'taskQueue'> = {}): Promise<JobResult> {
    return (await this.runWithHandle(job, options)).result;
  }

  async runWithHandle(
    job: JobDefinition,
    options: Omit<LaunchOptions, 'taskQueue'> = {},
  ): Promise<{ run: LaunchedRun; result: JobResult }> {
    return this.withWorker([job], async (taskQueue) => {
      const run = await launchRun(this.client, job, { ...options, taskQueue });
      return { run, result: await awaitRun(run) };
    });
  }

  async close(): Promise<void> {
    await this.env.teardown();
  }
}

/**
 * One worker for a whole test file, so each test pays for a run, not a worker start: register the
 * file's jobs with `define` at module level; in tests use `suite.harness` and `suite.taskQueue`.
 */
export function fileWideWorker(): {
  define(name: string, body: () => unknown): JobDefinition;
  readonly harness: TemporalHarness;
  readonly taskQueue: string;
} {
  const jobs: JobDefinition[] = [];
  let harness: TemporalHarness | undefined;
  let taskQueue: string | undefined;
  let stopWorker: () => void = () => {};
  let workerDone: Promise<void> | undefined;
  beforeAll(async () => {
    const connected = await TemporalHarness.connect();
    harness = connected;
    await new Promise<void>((ready, failed) => {
      workerDone = connected.withWorker(jobs, (queue) => {
        taskQueue = queue;
        ready();
        return new Promise<void>((stop) => (stopWorker = stop));
      });
      workerDone.catch(failed);
    });
  });
  afterAll(async () => {
    stopWorker();
    await workerDone;
    await harness?.close();
  });
  return {
    define(name, body) {
      const definition = job({ name }, body);
      jobs.push(definition);
      return definition;
    },
    get harness() {
      if (!harness) throw new Error('the file-wide worker is not started yet (use it inside tests)');
      return harness;
    },
    get taskQueue() {
      if (!taskQueue) throw new Error('the file-wide worker is not started yet (use it inside tests)');
      return taskQueue;
    },
  };
}
