import { describe, expect, it } from 'vitest';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import { JobPlan } from '../../src/dsl/plan.ts';
import { DynamicOut, DynamicOutput, graph, type Handle, job, op, Out } from '../../src/index.ts';

describe('tracing dynamic_graph', () => {
  it('gives 3 nodes, one dynamic dimension and a collect edge', () => {
    const plan = JobPlan.parse(JSON.parse(JSON.stringify(dynamicGraph.plan)));
    expect(plan.job).toBe('dynamic_graph');
    expect(plan.nodes.map((n) => ({ id: n.id, op: n.op, dim: n.dim, inputs: n.inputs, outputs: n.outputs }))).toEqual([
      { id: 'load_pieces', op: 'load_pieces', dim: [], inputs: [], outputs: [{ name: 'result', dynamic: true, required: true }] },
      {
        id: 'compute_piece',
        op: 'compute_piece',
        dim: ['load_pieces:result'],
        inputs: [{ name: 'piece', source: { kind: 'item', node: 'load_pieces', output: 'result' } }],
        outputs: [{ name: 'result', dynamic: false, required: true }],
      },
      {
        id: 'merge_and_analyze',
        op: 'merge_and_analyze',
        dim: [],
        inputs: [{ name: 'pieces', source: { kind: 'collect', node: 'compute_piece', output: 'result' } }],
        outputs: [{ name: 'result', dynamic: false, required: true }],
      },
    ]);
    const dims = new Set(plan.nodes.flatMap((n) => n.dim));
    expect(dims).toEqual(new Set(['load_pieces:result']));
  });

  it('is plain JSON that round-trips unchanged', () => {
    expect(JSON.parse(JSON.stringify(dynamicGraph.plan))).toEqual(dynamicGraph.plan);
  });
});

describe('graph outputs in the plan', () => {
  const emit = op({ name: 'plan_emit', out: new DynamicOut<number>() }, async function* () {
    yield new DynamicOutput(1, 'a');
  });
  const echo = op({ name: 'plan_echo' }, async (_ctx, x: number) => x);
  const split = op({ name: 'plan_split', out: { low: new Out<number>(), high: new Out<number>() } }, async () => ({ low: 1, high: 2 }));
  const total = op({ name: 'plan_total' }, async (_ctx, xs: number[]) => xs.length);

  it('records what each graph body returned, by output name, resolved to op outputs (zod round-trip keeps them)', () => {
    const twice = graph('twice', (x: Handle<number>) => echo(echo(x)));
    const outer = graph('outer', (x: Handle<number>) => twice(x));
    const tuple = graph('tuple', () => split());
    const record = graph('record', () => ({ first: echo(split().low), all: emit().map(echo).collect() }));
    const positional = graph('positional', () => [echo(split().high), emit()] as const);
    const nothing = graph('nothing', () => {
      echo(split().low);
    });
    const definition = job({ name: 'plan_graph_outputs' }, () => {
      emit().map(outer);
      total(tuple().low as never);
      record();
      positional();
      nothing();
    });
    expect(definition.plan.graphOutputs).toEqual({
      'outer.twice': { result: { kind: 'output', node: 'outer.twice.plan_echo_2', output: 'result' } },
      outer: { result: { kind: 'output', node: 'outer.twice.plan_echo_2', output: 'result' } },
      tuple: {
        low: { kind: 'output', node: 'tuple.plan_split', output: 'low' },
        high: { kind: 'output', node: 'tuple.plan_split', output: 'high' },
      },
      record: {
        first: { kind: 'output', node: 'record.plan_echo', output: 'result' },
        all: { kind: 'collect', node: 'record.plan_echo_2', output: 'result' },
      },
      positional: {
        '0': { kind: 'output', node: 'positional.plan_echo', output: 'result' },
        '1': { kind: 'output', node: 'positional.plan_emit', output: 'result' },
      },
    });
    expect(JobPlan.parse(JSON.parse(JSON.stringify(definition.plan)))).toEqual(definition.plan);
  });

  it('is absent from plans of jobs without graphs', () => {
    expect(dynamicGraph.plan).not.toHaveProperty('graphOutputs');
  });
});
