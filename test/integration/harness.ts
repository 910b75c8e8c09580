import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { installRuntimeLogger } from '../../src/logging.ts';
import { inject } from 'vitest';
import { awaitRun, launchRun, type LaunchedRun, type LaunchOptions } from '../../src/client/run.ts';
import type { JobResult } from '../../src/client/result.ts';
import { Definitions, type JobDefinition } from '../../src/dsl/job.ts';
import { createWorker } from '../../src/worker/createWorker.ts';

/** Connections to the suite's one dev server, and helpers that run jobs with an in-process worker. */
export class TemporalHarness {
  private constructor(
    readonly client: Client,
    private readonly connection: Connection,
    private readonly native: NativeConnection,
  ) {}

  static async connect(): Promise<TemporalHarness> {
    installRuntimeLogger();
    const address = inject('temporalAddress');
    const native = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
    return new TemporalHarness(new Client({ connection }), connection, native);
  }

  /** Runs `body` while a worker serving `jobs` polls a fresh task queue. */
  async withWorker<T>(jobs: readonly JobDefinition[], body: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = `test-${randomUUID()}`;
    const worker = await createWorker({
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
    await this.connection.close();
    await this.native.close();
  }
}
