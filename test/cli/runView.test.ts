/**
 * The run graph's states without a server: buildRunView from journals, progress and final records;
 * how mermaid/dot/svg draw them; and the worker's one-line log entries.
 */
import { describe, expect, it } from 'vitest';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import { renderGraph } from '../../src/cli/graph.ts';
import { NODE_STATES, STATE_COLOURS } from '../../src/cli/nodeStates.ts';
import { buildRunView } from '../../src/cli/runView.ts';
import { journalLogLines } from '../../src/cli/runViewCommands.ts';
import type { AttemptJournal, StepJournal } from '../../src/store/stepLogs.ts';
import { logLine } from '../../src/logging.ts';

const plan = dynamicGraph.plan;

function attempt(n: number, state: AttemptJournal['state'], extra: Partial<AttemptJournal> = {}): AttemptJournal {
  return {
    attempt: n,
    state,
    startedAt: 1_000 * n,
    workflowId: 'wf',
    workflowRunId: 'r',
    activityId: 'a',
    logs: [],
    droppedLines: 0,
    ...extra,
  };
}

function journal(stepKey: string, attempts: AttemptJournal[]): StepJournal {
  const match = /^([^[]+)(?:\[(.*)\])?$/.exec(stepKey);
  return { runId: 'run', stepKey, node: match?.[1] ?? stepKey, mappingKeys: match?.[2] ? [match[2]] : [], attempts };
}

const base = { workflowId: 'dynamic_graph-run', runId: 'run', plan };

describe('buildRunView', () => {
  it('live: step states from journals (retrying = a failed attempt to be retried, or a later attempt running), node states by precedence', () => {
    const view = buildRunView({
      ...base,
      status: 'RUNNING',
      progress: {
        job: 'dynamic_graph',
        runId: 'run',
        nodes: {
          load_pieces: { running: 0, succeeded: 1, failed: 0, skipped: 0, abandoned: 0 },
          compute_piece: { running: 3, succeeded: 1, failed: 0, skipped: 0, abandoned: 0 },
        },
        dimensions: { 'load_pieces:result': { total: 50, running: 4, done: 1, failed: 0 } },
      },
      journals: [
        journal('load_pieces', [attempt(1, 'succeeded')]),
        journal('compute_piece[0]', [attempt(1, 'succeeded')]),
        journal('compute_piece[1]', [attempt(1, 'running')]),
        journal('compute_piece[2]', [attempt(1, 'failed', { willRetry: true, error: { type: 'OpUserError', message: 'boom' } })]),
        journal('compute_piece[3]', [attempt(1, 'failed', { willRetry: true }), attempt(2, 'running')]),
      ],
    });
    const states = Object.fromEntries(view.steps.map((s) => [s.stepKey, s.state]));
    expect(states).toEqual({
      load_pieces: 'succeeded',
      'compute_piece[0]': 'succeeded',
      'compute_piece[1]': 'running',
      'compute_piece[2]': 'retrying',
      'compute_piece[3]': 'retrying',
    });
    expect(view.steps.find((s) => s.stepKey === 'compute_piece[2]')?.error?.message).toBe('boom');
    expect(view.steps.find((s) => s.stepKey === 'compute_piece[3]')?.attempts).toBe(2);
    expect(view.nodes).toEqual({
      load_pieces: { state: 'succeeded', counts: { succeeded: 1 }, mapped: false },
      compute_piece: { state: 'retrying', counts: { running: 1, retrying: 2, succeeded: 1 }, mapped: true },
      merge_and_analyze: { state: 'pending', counts: {}, mapped: false },
    });
  });

  it('live: a map whose first keys succeeded is running until all keys are done; skipped/abandoned counts come from progress', () => {
    const view = buildRunView({
      ...base,
      status: 'RUNNING',
      progress: {
        job: 'dynamic_graph',
        runId: 'run',
        nodes: { compute_piece: { running: 0, succeeded: 1, failed: 0, skipped: 2, abandoned: 1 } },
        dimensions: { 'load_pieces:result': { total: 50, running: 0, done: 1, failed: 0 } },
      },
      journals: [journal('compute_piece[0]', [attempt(1, 'succeeded')])],
    });
    expect(view.nodes.compute_piece).toEqual({ state: 'running', counts: { succeeded: 1, skipped: 2, abandoned: 1 }, mapped: true });
  });

  it('live: failed steps waiting for a redrive are waiting — those the progress lists by key, then the latest failed up to its count', () => {
    const failedAt = (endedAt: number) => [attempt(1, 'failed', { endedAt, error: { type: 'OpUserError', message: 'no' } })];
    const view = buildRunView({
      ...base,
      status: 'RUNNING',
      progress: {
        job: 'dynamic_graph',
        runId: 'run',
        nodes: { compute_piece: { running: 0, succeeded: 0, failed: 0, skipped: 0, abandoned: 0, waiting: 2 } },
        dimensions: {},
        waiting: { steps: 2, stepKeys: ['compute_piece[0]'] },
      },
      journals: [
        journal('compute_piece[0]', failedAt(1)),
        journal('compute_piece[1]', failedAt(3)),
        journal('compute_piece[2]', failedAt(2)),
      ],
    });
    expect(Object.fromEntries(view.steps.map((s) => [s.stepKey, s.state]))).toEqual({
      'compute_piece[0]': 'waiting',
      'compute_piece[1]': 'waiting',
      'compute_piece[2]': 'failed',
    });
    expect(view.nodes.compute_piece).toEqual({ state: 'failed', counts: { waiting: 2, failed: 1 }, mapped: true });
  });

  it('closed: final records win; a WAITING record is waiting; what was still running in a cancelled run is cancelled', () => {
    const view = buildRunView({
      ...base,
      status: 'CANCELLED',
      records: {
        load_pieces: { node: 'load_pieces', mappingKeys: [], status: 'SUCCESS', attempts: 1 },
        'compute_piece[0]': {
          node: 'compute_piece',
          mappingKeys: ['0'],
          status: 'FAILURE',
          attempts: 2,
          error: { type: 'OpUserError', message: 'x' },
        },
        'compute_piece[1]': { node: 'compute_piece', mappingKeys: ['1'], status: 'WAITING' as never },
        merge_and_analyze: { node: 'merge_and_analyze', mappingKeys: [], status: 'ABANDONED' },
      },
      journals: [journal('compute_piece[2]', [attempt(1, 'running')])],
    });
    expect(Object.fromEntries(view.steps.map((s) => [s.stepKey, s.state]))).toEqual({
      load_pieces: 'succeeded',
      'compute_piece[0]': 'failed',
      'compute_piece[1]': 'waiting',
      'compute_piece[2]': 'cancelled',
      merge_and_analyze: 'abandoned',
    });
    expect(view.nodes.compute_piece).toEqual({ state: 'failed', counts: { failed: 1, waiting: 1, cancelled: 1 }, mapped: true });
  });
});

describe('rendering states', () => {
  const decorations = {
    load_pieces: { state: 'succeeded', counts: { succeeded: 1 }, mapped: false },
    compute_piece: { state: 'waiting', counts: { succeeded: 3, waiting: 1, running: 2 }, mapped: true },
    merge_and_analyze: { state: 'pending', counts: {}, mapped: false },
  } as const;

  it('mermaid: a class per node and a classDef per state, counts under mapped nodes', () => {
    const text = renderGraph(plan, 'mermaid', decorations);
    expect(text).toContain('compute_piece["compute_piece<br/>waiting: 2 running, 1 waiting, 3 succeeded"]:::waiting');
    expect(text).toContain('load_pieces["load_pieces<br/>DynamicOut<br/>succeeded"]:::succeeded');
    for (const state of NODE_STATES) expect(text).toContain(`classDef ${state} fill:${STATE_COLOURS[state].fill}`);
  });

  it('dot: filled nodes in the state colour', () => {
    expect(renderGraph(plan, 'dot', decorations)).toContain(
      '"compute_piece" [label="compute_piece\\nwaiting: 2 running, 1 waiting, 3 succeeded", style="rounded,filled", fillcolor="#fff59d", color="#f9a825", penwidth=2];',
    );
  });

  it('svg: one g.node per node with its state, the map as a box, arrows; the plain graph has no states', () => {
    const svg = renderGraph(plan, 'svg', decorations);
    expect(svg.match(/<g class="node"/g)).toHaveLength(3);
    expect(svg).toContain('data-node="compute_piece" data-state="waiting"');
    expect(svg).toContain(`fill="${STATE_COLOURS.waiting.fill}"`);
    expect(svg).toContain('<g class="map" data-map="load_pieces:result">');
    expect(svg.match(/marker-end/g)).toHaveLength(2);
    expect(renderGraph(plan, 'svg')).not.toContain('data-state');
  });
});

describe('log lines', () => {
  it("the worker's entries are one line each, without the SDK's per-activity attributes", () => {
    const line = logLine({
      level: 'INFO',
      message: 'Computing piece\n[1, 2]',
      timestampNanos: 1_700_000_000_000n * 1_000_000n,
      meta: {
        stepKey: 'compute_piece[0]',
        job: 'dynamic_graph',
        runId: 'r',
        taskToken: 'abc',
        workflowRunId: 'x',
        activityId: 'compute_piece[0]',
        attempt: 1,
        namespace: 'default',
        taskQueue: 'q',
        isLocal: false,
        workflowType: 'dynamic_graph',
        activityType: 'dynamic_graph',
        workflowId: 'w',
        sdkComponent: 'activity',
        rows: 12,
        note: 'two words',
      },
    });
    expect(line).toBe('2023-11-14T22:13:20.000Z INFO  [dynamic_graph compute_piece[0]] Computing piece ⏎ [1, 2] rows=12 note="two words"');
  });

  it('journalLogLines: every step, oldest first, with step key and attempt', () => {
    const lines = journalLogLines([
      journal('b', [attempt(1, 'succeeded', { logs: [{ at: 3_000, level: 'info', message: 'third' }] })]),
      journal('a', [
        attempt(1, 'failed', { logs: [{ at: 1_000, level: 'warn', message: 'first', extra: '{"x":1}' }], droppedLines: 4 }),
        attempt(2, 'succeeded', { logs: [{ at: 2_000, level: 'info', message: 'second' }] }),
      ]),
    ]);
    expect(lines).toEqual([
      'a#1 (4 earlier lines dropped)',
      '00:00:01.000 WARN  a#1 first {"x":1}',
      '00:00:02.000 INFO  a#2 second',
      '00:00:03.000 INFO  b#1 third',
    ]);
  });
});
