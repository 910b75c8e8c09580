import type { WorkflowExecutionInfo } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import type { JobResult } from '../../src/client/result.ts';
import { launchRun, type LaunchedRun } from '../../src/client/run.ts';
import type { RunProgress } from '../../src/workflows/progress.ts';
import { TemporalHarness } from './harness.ts';

describe('dynamic_graph (seed: a mocked large dataset) on a real Temporal server', () => {
  let harness: TemporalHarness;
  let run: LaunchedRun;
  let result: JobResult;

  beforeAll(async () => {
    harness = await TemporalHarness.connect();
    ({ run, result } = await harness.runWithHandle(dynamicGraph));
  });
  afterAll(async () => harness?.close());

  it('returns the elementwise sum numpy gives: [4900, 5000]', async () => {
    expect(result.success).toBe(true);
    expect(await result.outputFor('merge_and_analyze')).toEqual([4900, 5000]);
  });

  it('reports every step: the fan-out, 50 clones in yield order, the collect', async () => {
    const keys = Object.keys(result.stepStatuses());
    expect(keys).toEqual(['load_pieces', 'merge_and_analyze', ...Array.from({ length: 50 }, (_, i) => `compute_piece[${i}]`)]);
    expect(new Set(Object.values(result.stepStatuses()))).toEqual(new Set(['SUCCESS']));
    const pieces = (await result.outputFor('compute_piece')) as Map<string, number[]>;
    expect([...pieces.keys()]).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    expect(pieces.get('7')).toEqual([28, 30]);
  });

  it('runs one child workflow per mapping key, with ids <job workflow id>/load_pieces[<key>]', async () => {
    const children: WorkflowExecutionInfo[] = [];
    // Visibility is updated asynchronously: poll briefly until all children are listed.
    for (let attempt = 0; attempt < 50; attempt++) {
      children.length = 0;
      for await (const wf of harness.client.workflow.list({ query: `ParentWorkflowId = '${run.workflowId}'` })) children.push(wf);
      if (children.length >= 50) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const ids = children.map((c) => c.workflowId).sort();
    const expected = Array.from({ length: 50 }, (_, i) => `${run.workflowId}/load_pieces[${i}]`).sort();
    expect(ids).toEqual(expected);
    expect(new Set(children.map((c) => c.type))).toEqual(new Set(['dynamic_graph/load_pieces[*]']));
    expect(new Set(children.map((c) => c.status.name))).toEqual(new Set(['COMPLETED']));
  });

  it('tags the run and its children with search attributes the UI can filter on', async () => {
    const query = async (q: string) => {
      const ids: string[] = [];
      for (let attempt = 0; attempt < 50; attempt++) {
        ids.length = 0;
        for await (const wf of harness.client.workflow.list({ query: q })) ids.push(wf.workflowId);
        if (ids.length > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      return ids;
    };
    expect(await query(`OpgraphRunId = '${run.runId}' AND OpgraphStepKey = 'load_pieces[7]'`)).toEqual([
      `${run.workflowId}/load_pieces[7]`,
    ]);
    expect(await query(`OpgraphRunId = '${run.runId}' AND OpgraphMappingKey = '42'`)).toEqual([`${run.workflowId}/load_pieces[42]`]);
    const all = await query(`OpgraphJob = 'dynamic_graph' AND OpgraphRunId = '${run.runId}'`);
    expect(all).toContain(run.workflowId);
  });

  it('names the job workflow type after the job and each activity after its step key', async () => {
    const description = await run.handle.describe();
    expect(description.type).toBe('dynamic_graph');
    const activityIds = async (workflowId: string) => {
      const history = await harness.client.workflow.getHandle(workflowId).fetchHistory();
      return (history.events ?? []).flatMap((e) => {
        const scheduled = e.activityTaskScheduledEventAttributes;
        return scheduled ? [{ id: scheduled.activityId, type: scheduled.activityType?.name }] : [];
      });
    };
    expect(await activityIds(run.workflowId)).toEqual([
      { id: 'load_pieces', type: 'load_pieces' },
      { id: 'merge_and_analyze', type: 'merge_and_analyze' },
    ]);
    expect(await activityIds(`${run.workflowId}/load_pieces[7]`)).toEqual([{ id: 'compute_piece[7]', type: 'compute_piece' }]);
  });
});

describe('progress of a finished dynamic_graph run', () => {
  it('answers the progress query with per-node and per-dimension counts', async () => {
    const harness = await TemporalHarness.connect();
    try {
      // A query is answered by a worker, so ask while one still polls the run's task queue.
      const { run, progress } = await harness.withWorker([dynamicGraph], async (taskQueue) => {
        const launched = await launchRun(harness.client, dynamicGraph, { taskQueue });
        await launched.handle.result();
        return { run: launched, progress: await launched.handle.query<RunProgress>('progress') };
      });
      expect(progress.dimensions['load_pieces:result']).toEqual({ total: 50, done: 50, running: 0, failed: 0 });
      expect(progress.nodes.compute_piece).toMatchObject({ succeeded: 50, running: 0, failed: 0 });
      expect(progress.nodes.merge_and_analyze).toMatchObject({ succeeded: 1, running: 0 });
      const description = await run.handle.describe();
      expect(await description.staticSummary()).toContain('dynamic_graph');
    } finally {
      await harness.close();
    }
  });
});
