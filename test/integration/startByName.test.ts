import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import { processDirectory, SAMPLE_FILES_DIR } from '../../examples/process-directory.ts';
import { ScopeResult } from '../../src/dsl/protocol.ts';
import { TemporalHarness } from './harness.ts';

/** A run started by job name alone, as from `temporal workflow start --type <job>` or the Web UI. */
describe('starting a job by its name alone', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('resolves the plan on the worker and runs it', async () => {
    const raw = await harness.withWorker([dynamicGraph, processDirectory], (taskQueue) =>
      harness.client.workflow.execute('dynamic_graph', { taskQueue, workflowId: `by-name-${Date.now()}`, args: [] }),
    );
    const result = ScopeResult.parse(raw);
    expect(result.steps.merge_and_analyze?.outputs).toEqual([{ kind: 'value', name: 'result', value: [4900, 5000] }]);
    expect(Object.keys(result.steps)).toHaveLength(52);
  });

  it('takes run config as the input, validated by the worker', async () => {
    const raw = await harness.withWorker([processDirectory], (taskQueue) =>
      harness.client.workflow.execute('process_directory', {
        taskQueue,
        workflowId: `by-name-config-${Date.now()}`,
        args: [{ ops: { files_in_directory: { config: { path: SAMPLE_FILES_DIR } } } }],
      }),
    );
    expect(ScopeResult.parse(raw).steps.summarize_directory?.status).toBe('SUCCESS');
  });

  it('fails clearly, without retrying, for a job the worker does not know or bad run config', async () => {
    const run = (type: string, args: unknown[]) =>
      harness.withWorker([dynamicGraph], (taskQueue) =>
        harness.client.workflow.execute(type, { taskQueue, workflowId: `by-name-bad-${type}-${Date.now()}`, args }),
      );
    // The workflow fails with the resolving activity's failure as its cause.
    const reason = (err: unknown): string => {
      const activityFailure = err instanceof WorkflowFailedError ? err.cause : undefined;
      return activityFailure?.cause instanceof Error ? activityFailure.cause.message : String(err);
    };
    const unknown = await run('no_such_job', []).catch((err: unknown) => err);
    expect(unknown).toBeInstanceOf(WorkflowFailedError);
    expect(reason(unknown)).toMatch(/cannot start job "no_such_job" by name: unknown job "no_such_job"; known jobs: dynamic_graph/);
    const badConfig = await run('dynamic_graph', [{ ops: { nope: {} } }]).catch((err: unknown) => err);
    expect(reason(badConfig)).toMatch(/ops\.nope: job "dynamic_graph" has no node named "nope"/);
  });
});
