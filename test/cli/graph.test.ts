import { describe, expect, it } from 'vitest';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import { multiple } from '../../examples/guide-advanced.ts';
import { renderDot, renderGraph, renderJson, renderMermaid } from '../../src/cli/graph.ts';
import { runCli } from '../../src/cli/commands.ts';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { captureIO } from './capture.ts';
import { layoutCollisions } from './dotLayout.ts';

/** A fan-out inside a mapped scope: a cluster nested in a cluster. */
function nestedJob() {
  const keys = op({ name: 'g_outer_keys', out: new DynamicOut<number>() }, async function* () {
    yield new DynamicOutput(1, 'a');
  });
  const split = op({ name: 'g_split', out: new DynamicOut<number>() }, async function* (_ctx, n: number) {
    yield new DynamicOutput(n, 'x');
  });
  const double = op({ name: 'g_double' }, async (_ctx, n: number) => n * 2);
  const total = op({ name: 'g_total' }, async (_ctx, xs: number[]) => xs.length);
  return job({ name: 'g_nested' }, () => {
    total(
      keys()
        .map((k) => total(split(k).map(double).collect()))
        .collect(),
    );
  });
}

describe('opgraph graph: dynamic_graph', () => {
  it('mermaid: the mapped step inside a subgraph for its dimension, map/collect edges', () => {
    expect(renderMermaid(dynamicGraph.plan)).toBe(
      [
        'flowchart TD',
        '  load_pieces["load_pieces<br/>DynamicOut"]',
        '  merge_and_analyze["merge_and_analyze"]',
        '  subgraph dim_load_pieces_result ["map over load_pieces"]',
        '    compute_piece["compute_piece"]',
        '  end',
        '  load_pieces ==>|map| compute_piece',
        '  compute_piece ==>|collect| merge_and_analyze',
        '',
      ].join('\n'),
    );
  });

  it('dot: a cluster per dimension, labelled edges', () => {
    expect(renderDot(dynamicGraph.plan)).toBe(
      [
        'digraph "dynamic_graph" {',
        '  label="dynamic_graph";',
        '  labelloc=t;',
        '  rankdir=TB;',
        '  nodesep=0.5;',
        '  ranksep=0.6;',
        '  node [shape=box, style=rounded];',
        '  "load_pieces" [label="load_pieces\\nDynamicOut"];',
        '  "merge_and_analyze" [label="merge_and_analyze"];',
        '  subgraph "cluster_0" {',
        '    label="";',
        '    style=dashed;',
        '    "cluster_0 title" [shape=plaintext, fontsize=11, label="map over load_pieces"];',
        '    "compute_piece" [label="compute_piece"];',
        '    { rank=same; "cluster_0 title"; "compute_piece"; }',
        '  }',
        '  "load_pieces" -> "compute_piece" [label="map", style=bold];',
        '  "compute_piece" -> "merge_and_analyze" [label="collect", style=bold];',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('json: nodes with their dimensions, the dimension, and typed edges', () => {
    expect(JSON.parse(renderJson(dynamicGraph.plan))).toEqual({
      job: 'dynamic_graph',
      nodes: [
        { id: 'load_pieces', op: 'load_pieces', dims: [], stage: 0, outputs: [{ name: 'result', dynamic: true }], configInputs: [] },
        {
          id: 'compute_piece',
          op: 'compute_piece',
          dims: ['load_pieces:result'],
          stage: 0,
          outputs: [{ name: 'result', dynamic: false }],
          configInputs: [],
        },
        {
          id: 'merge_and_analyze',
          op: 'merge_and_analyze',
          dims: [],
          stage: 0,
          outputs: [{ name: 'result', dynamic: false }],
          configInputs: [],
        },
      ],
      dimensions: [{ id: 'load_pieces:result', source: { node: 'load_pieces', output: 'result' }, parent: null, nodes: ['compute_piece'] }],
      edges: [
        { from: 'load_pieces', output: 'result', to: 'compute_piece', input: 'piece', kind: 'map' },
        { from: 'compute_piece', output: 'result', to: 'merge_and_analyze', input: 'pieces', kind: 'collect' },
      ],
    });
  });

  it('the command prints the chosen format and rejects unknown ones with exit code 2', async () => {
    const dot = captureIO();
    expect(await runCli(['graph', 'dynamic_graph', '--format', 'dot'], dot.io)).toBe(0);
    expect(dot.stdout()).toBe(renderGraph(dynamicGraph.plan, 'dot'));

    const mermaid = captureIO();
    expect(await runCli(['graph', 'dynamic_graph'], mermaid.io)).toBe(0);
    expect(mermaid.stdout()).toBe(renderMermaid(dynamicGraph.plan));

    const svg = captureIO();
    expect(await runCli(['graph', 'dynamic_graph', '--format', 'svg'], svg.io)).toBe(0);
    expect(svg.stdout()).toBe(renderGraph(dynamicGraph.plan, 'svg'));

    const bad = captureIO();
    expect(await runCli(['graph', 'dynamic_graph', '--format', 'png'], bad.io)).toBe(2);
    expect(bad.stderr()).toContain("argument 'png' is invalid. Allowed choices are mermaid, dot, json, svg");

    const noServer = captureIO({});
    expect(await runCli(['graph', 'dynamic_graph', '--run', 'dynamic_graph-x'], noServer.io)).toBe(2);
    expect(noServer.stderr()).toContain('TEMPORAL_ADDRESS');

    const unknown = captureIO();
    expect(await runCli(['graph', 'no_such_job'], unknown.io)).toBe(2);
    expect(unknown.stderr()).toContain('unknown job "no_such_job"');
    expect(unknown.stderr()).toContain('known jobs: dynamic_graph,');
  });
});

describe('opgraph graph: other shapes', () => {
  it('names non-default dynamic outputs on map/collect edges and aliased ops in labels', () => {
    const text = renderMermaid(multiple.plan);
    expect(text).toContain('  multiple_dynamic_values ==>|collect values| process');
    expect(text).toContain('  multiple_dynamic_values ==>|map negatives| echo');
    expect(text).toContain('  subgraph dim_multiple_dynamic_values_negatives ["map over multiple_dynamic_values.negatives"]');
    expect(text).toContain('  echo_2["echo_2<br/>op echo"]');
  });

  it('nests the subgraph/cluster of a fan-out inside a mapped scope', () => {
    const nested = nestedJob();
    expect(renderMermaid(nested.plan)).toBe(
      [
        'flowchart TD',
        '  g_outer_keys["g_outer_keys<br/>DynamicOut"]',
        '  g_total_2["g_total_2<br/>op g_total"]',
        '  subgraph dim_g_outer_keys_result ["map over g_outer_keys"]',
        '    g_split["g_split<br/>DynamicOut"]',
        '    g_total["g_total"]',
        '    subgraph dim_g_split_result ["map over g_split"]',
        '      g_double["g_double"]',
        '    end',
        '  end',
        '  g_outer_keys ==>|map| g_split',
        '  g_split ==>|map| g_double',
        '  g_double ==>|collect| g_total',
        '  g_total ==>|collect| g_total_2',
        '',
      ].join('\n'),
    );
    const dot = renderDot(nested.plan);
    expect(dot).toContain(
      '  subgraph "cluster_0" {\n    label="";\n    style=dashed;\n    "cluster_0 title" [shape=plaintext, fontsize=11, label="map over g_outer_keys"];',
    );
    expect(dot).toContain(
      '    subgraph "cluster_1" {\n      label="";\n      style=dashed;\n      "cluster_1 title" [shape=plaintext, fontsize=11, label="map over g_split"];\n      "g_double" [label="g_double"];\n      { rank=same; "cluster_1 title"; "g_double"; }\n    }\n  }',
    );
    expect(JSON.parse(renderJson(nested.plan)).dimensions).toEqual([
      { id: 'g_outer_keys:result', source: { node: 'g_outer_keys', output: 'result' }, parent: null, nodes: ['g_split', 'g_total'] },
      { id: 'g_split:result', source: { node: 'g_split', output: 'result' }, parent: 'g_outer_keys:result', nodes: ['g_double'] },
    ]);
  });

  it('keeps Mermaid keywords out of node ids', () => {
    const end = op({ name: 'end' }, async () => 1);
    const after = op({ name: 'after_end' }, async (_ctx, x: number) => x);
    const j = job({ name: 'g_keywords' }, () => {
      after(end());
    });
    expect(renderMermaid(j.plan)).toContain('  end_node --> after_end\n');
  });
});

describe('opgraph graph --format dot: labels that do not collide', () => {
  it('every example job, laid out by Graphviz: no label overlaps another or a node, no edge crosses a label or a third node', async () => {
    const { defs } = await import('../../examples/definitions.ts');
    for (const definition of [...defs.jobs.values(), nestedJob()]) {
      expect(await layoutCollisions(renderDot(definition.plan)), definition.name).toEqual([]);
      // With a run's states: every mapped node carries a long counts line.
      const decorations = Object.fromEntries(
        definition.plan.nodes.map((n) => [
          n.id,
          {
            state: 'running' as const,
            mapped: n.dim.length > 0,
            counts: { succeeded: 1200, running: 40, retrying: 3, failed: 2, waiting: 1 },
          },
        ]),
      );
      expect(await layoutCollisions(renderDot(definition.plan, decorations)), `${definition.name} with states`).toEqual([]);
    }
  });

  it('the check sees a collision: the former layout (xlabels, cluster labels at the bottom) crossed them', async () => {
    const former = renderDot(multiple.plan)
      .replace(/\[label="(map|collect)/g, '[xlabel="$1')
      .replace(/ {4}"cluster_(\d+) title" \[shape=plaintext, fontsize=11, label=("[^"]*")\];/g, '    label=$2;\n    labelloc=b;')
      .replace(/ *\{ rank=same;[^}]*\}\n/g, '');
    expect(former).toContain('labelloc=b;');
    expect((await layoutCollisions(former)).join('\n')).toMatch(/crosses label of cluster_\d/);
  });
});
