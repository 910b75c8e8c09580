import { describe, expect, it } from 'vitest';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import { JobPlan } from '../../src/dsl/plan.ts';

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
