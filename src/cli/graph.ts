/**
 * `opgraph graph`: renders a job's plan as Mermaid, Graphviz DOT or JSON. Dynamic dimensions are
 * drawn as such: a Mermaid subgraph / DOT cluster per dimension (nested for nested fan-outs), and
 * edges into and out of them labelled `map` / `collect`. Pure: plan in, text out.
 */
import { parseDimensionId, type JobPlan, type PlanNode } from '../dsl/plan.ts';
import { layoutSvg } from './graphSvg.ts';
import { decorationLine, type GraphDecorations, NODE_STATES, STATE_COLOURS } from './nodeStates.ts';

export const GRAPH_FORMATS = ['mermaid', 'dot', 'json', 'svg'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export type EdgeKind = 'output' | 'map' | 'collect' | 'fanin';

export interface GraphEdge {
  from: string;
  output: string;
  to: string;
  input: string;
  kind: EdgeKind;
}

export interface GraphNode {
  id: string;
  op: string;
  /** The dimensions this node is mapped over, outermost first (empty: runs once). */
  dims: string[];
  /** Stage within its innermost dimension (0 unless the dimension splits at a collect barrier). */
  stage: number;
  outputs: { name: string; dynamic: boolean }[];
  /** Inputs supplied by run config (`ops.<node>.inputs.<name>`). */
  configInputs: string[];
}

export interface GraphDimension {
  /** `node:output` of the dynamic output that fans out. */
  id: string;
  source: { node: string; output: string };
  /** The enclosing dimension for a nested fan-out, else null. */
  parent: string | null;
  /** Nodes mapped over this dimension (directly, not through a nested one). */
  nodes: string[];
}

export interface JobGraph {
  job: string;
  description?: string;
  nodes: GraphNode[];
  dimensions: GraphDimension[];
  edges: GraphEdge[];
}

/** The graph view of a plan: nodes, dimensions (outermost first) and labelled edges. */
export function planGraph(plan: JobPlan): JobGraph {
  const nodes: GraphNode[] = plan.nodes.map((n) => ({
    id: n.id,
    op: n.op,
    dims: [...n.dim],
    stage: n.stages[n.stages.length - 1] ?? 0,
    outputs: n.outputs.map((o) => ({ name: o.name, dynamic: o.dynamic })),
    configInputs: n.inputs.filter((i) => i.source.kind === 'config').map((i) => i.name),
  }));
  const dimensions = new Map<string, GraphDimension>();
  for (const node of plan.nodes) {
    node.dim.forEach((dim, level) => {
      if (!dimensions.has(dim)) {
        dimensions.set(dim, { id: dim, source: parseDimensionId(dim), parent: node.dim[level - 1] ?? null, nodes: [] });
      }
    });
    const innermost = node.dim[node.dim.length - 1];
    if (innermost !== undefined) dimensions.get(innermost)?.nodes.push(node.id);
  }
  const graph: JobGraph = { job: plan.job, nodes, dimensions: [...dimensions.values()], edges: plan.nodes.flatMap(edgesInto) };
  if (plan.description !== undefined) graph.description = plan.description;
  return graph;
}

function edgesInto(node: PlanNode): GraphEdge[] {
  return node.inputs.flatMap(({ name, source }): GraphEdge[] => {
    switch (source.kind) {
      case 'output':
        return [{ from: source.node, output: source.output, to: node.id, input: name, kind: 'output' }];
      case 'item':
        return [{ from: source.node, output: source.output, to: node.id, input: name, kind: 'map' }];
      case 'collect':
        return [{ from: source.node, output: source.output, to: node.id, input: name, kind: 'collect' }];
      case 'fanin':
        return source.sources.map((ref) => ({ from: ref.node, output: ref.output, to: node.id, input: name, kind: 'fanin' as const }));
      case 'config':
        return [];
    }
  });
}

/** `map`, `collect`, `fan-in`, plus the output's name when the source has several / a non-default one. */
export function edgeLabel(edge: GraphEdge): string {
  const kind = edge.kind === 'output' ? '' : edge.kind === 'fanin' ? 'fan-in' : edge.kind;
  const output = edge.output === 'result' ? '' : edge.output;
  return [kind, output].filter(Boolean).join(' ');
}

export function nodeLabel(node: GraphNode): string {
  const parts = [node.id];
  if (node.op !== node.id) parts.push(`op ${node.op}`);
  if (node.stage > 0) parts.push(`stage ${node.stage + 1}`);
  const dynamic = node.outputs.filter((o) => o.dynamic).map((o) => (o.name === 'result' ? 'DynamicOut' : `DynamicOut ${o.name}`));
  parts.push(...dynamic);
  if (node.configInputs.length > 0) parts.push(`config inputs: ${node.configInputs.join(', ')}`);
  return parts.join('\n');
}

export function dimensionLabel(dim: GraphDimension): string {
  const { node, output } = dim.source;
  return output === 'result' ? `map over ${node}` : `map over ${node}.${output}`;
}

/** Children of each dimension (null = top level), in first-seen order. */
function dimensionTree(graph: JobGraph): Map<string | null, GraphDimension[]> {
  const tree = new Map<string | null, GraphDimension[]>();
  for (const dim of graph.dimensions) {
    const siblings = tree.get(dim.parent) ?? [];
    siblings.push(dim);
    tree.set(dim.parent, siblings);
  }
  return tree;
}

/** Words Mermaid's flowchart parser treats as syntax; a node with such an id gets a suffix. */
const MERMAID_KEYWORDS = new Set([
  'end',
  'graph',
  'flowchart',
  'subgraph',
  'style',
  'class',
  'classdef',
  'click',
  'linkstyle',
  'direction',
  'default',
  'call',
  'href',
]);

/** Identifiers safe for Mermaid (letters, digits, underscore), unique across nodes and subgraphs. */
function mermaidIds(): { node: (id: string) => string; dim: (id: string) => string } {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  const allocate = (key: string, base: string): string => {
    const known = ids.get(key);
    if (known) return known;
    let id = base;
    for (let i = 2; used.has(id); i++) id = `${base}_${i}`;
    ids.set(key, id);
    used.add(id);
    return id;
  };
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_');
  return {
    node: (id) => allocate(`node:${id}`, MERMAID_KEYWORDS.has(id.toLowerCase()) ? `${id}_node` : clean(id)),
    dim: (id) => allocate(`dim:${id}`, `dim_${clean(id)}`),
  };
}

function mermaidText(text: string): string {
  return `"${text.replace(/"/g, '#quot;').replace(/\n/g, '<br/>')}"`;
}

export function renderMermaid(plan: JobPlan, decorations?: GraphDecorations): string {
  const graph = planGraph(plan);
  const ids = mermaidIds();
  const nodeId = ids.node;
  const dimId = ids.dim;
  const tree = dimensionTree(graph);
  const lines = ['flowchart TD'];
  const emitNodes = (ids: readonly string[], indent: string): void => {
    for (const id of ids) {
      const node = graph.nodes.find((n) => n.id === id);
      if (!node) continue;
      const decoration = decorations?.[node.id];
      const label = decoration ? `${nodeLabel(node)}\n${decorationLine(decoration)}` : nodeLabel(node);
      lines.push(`${indent}${nodeId(node.id)}[${mermaidText(label)}]${decoration ? `:::${decoration.state}` : ''}`);
    }
  };
  const emitDimension = (dim: GraphDimension, indent: string): void => {
    lines.push(`${indent}subgraph ${dimId(dim.id)} [${mermaidText(dimensionLabel(dim))}]`);
    emitNodes(dim.nodes, `${indent}  `);
    for (const child of tree.get(dim.id) ?? []) emitDimension(child, `${indent}  `);
    lines.push(`${indent}end`);
  };
  emitNodes(
    graph.nodes.filter((n) => n.dims.length === 0).map((n) => n.id),
    '  ',
  );
  for (const dim of tree.get(null) ?? []) emitDimension(dim, '  ');
  for (const edge of graph.edges) {
    const label = edgeLabel(edge);
    const arrow = edge.kind === 'map' || edge.kind === 'collect' ? '==>' : '-->';
    lines.push(`  ${nodeId(edge.from)} ${arrow}${label ? `|${label}|` : ''} ${nodeId(edge.to)}`);
  }
  if (decorations) {
    for (const state of NODE_STATES) {
      const { fill, stroke } = STATE_COLOURS[state];
      lines.push(`  classDef ${state} fill:${fill},stroke:${stroke},stroke-width:2px,color:#000`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function renderDot(plan: JobPlan, decorations?: GraphDecorations): string {
  const graph = planGraph(plan);
  const tree = dimensionTree(graph);
  const lines = [
    `digraph ${dotString(graph.job)} {`,
    `  label=${dotString(graph.description ? `${graph.job}\n${graph.description}` : graph.job)};`,
    '  labelloc=t;',
    '  rankdir=TB;',
    // Edge labels are real labels (dot lays them out as nodes, so nothing overlaps them). A cluster's
    // title is a plaintext node beside its first row, not the cluster label, which edges entering or
    // leaving the cluster would cross (checked by laying the output out with Graphviz in the tests).
    '  nodesep=0.5;',
    '  ranksep=0.6;',
    '  node [shape=box, style=rounded];',
  ];
  const emitNodes = (ids: readonly string[], indent: string): void => {
    for (const id of ids) {
      const node = graph.nodes.find((n) => n.id === id);
      if (!node) continue;
      const decoration = decorations?.[node.id];
      if (!decoration) {
        lines.push(`${indent}${dotString(node.id)} [label=${dotString(nodeLabel(node))}];`);
        continue;
      }
      const { fill, stroke } = STATE_COLOURS[decoration.state];
      const label = dotString(`${nodeLabel(node)}\n${decorationLine(decoration)}`);
      lines.push(
        `${indent}${dotString(node.id)} [label=${label}, style="rounded,filled", fillcolor="${fill}", color="${stroke}", penwidth=2];`,
      );
    }
  };
  let clusters = 0;
  const subtreeNodes = (dim: GraphDimension): Set<string> =>
    new Set([...dim.nodes, ...(tree.get(dim.id) ?? []).flatMap((child) => [...subtreeNodes(child)])]);
  const emitDimension = (dim: GraphDimension, indent: string): void => {
    const cluster = `cluster_${clusters++}`;
    const title = `${cluster} title`; // a space: no node id has one
    lines.push(`${indent}subgraph ${dotString(cluster)} {`);
    lines.push(`${indent}  label="";`); // else the cluster repeats the graph's label
    lines.push(`${indent}  style=dashed;`);
    lines.push(`${indent}  ${dotString(title)} [shape=plaintext, fontsize=11, label=${dotString(dimensionLabel(dim))}];`);
    emitNodes(dim.nodes, `${indent}  `);
    const first = firstRow(graph, dim.nodes, subtreeNodes(dim));
    if (first.length > 0) lines.push(`${indent}  { rank=same; ${[title, ...first].map(dotString).join('; ')}; }`);
    for (const child of tree.get(dim.id) ?? []) emitDimension(child, `${indent}  `);
    lines.push(`${indent}}`);
  };
  emitNodes(
    graph.nodes.filter((n) => n.dims.length === 0).map((n) => n.id),
    '  ',
  );
  for (const dim of tree.get(null) ?? []) emitDimension(dim, '  ');
  for (const edge of graph.edges) {
    const attrs: string[] = [];
    const label = edgeLabel(edge);
    if (label) attrs.push(`label=${dotString(label)}`);
    if (edge.kind === 'map' || edge.kind === 'collect') attrs.push('style=bold');
    lines.push(`  ${dotString(edge.from)} -> ${dotString(edge.to)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** The nodes of `ids` with no edge from a node of the cluster (`members`, nested ones included): its first row, where its title sits. */
function firstRow(
  graph: { edges: readonly { from: string; to: string }[] },
  ids: readonly string[],
  members: ReadonlySet<string>,
): string[] {
  return ids.filter((id) => !graph.edges.some((e) => e.to === id && members.has(e.from)));
}

/** A standalone SVG (laid out in graphSvg.ts); with decorations, nodes coloured by a run's states. */
export function renderSvg(plan: JobPlan, decorations?: GraphDecorations): string {
  const graph = planGraph(plan);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const dims = new Map(graph.dimensions.map((d) => [d.id, d]));
  return layoutSvg(
    graph,
    {
      node: (id) => {
        const node = byId.get(id);
        return node ? nodeLabel(node) : id;
      },
      dimension: (id) => {
        const dim = dims.get(id);
        return dim ? dimensionLabel(dim) : id;
      },
      edge: (index) => {
        const edge = graph.edges[index];
        return edge ? edgeLabel(edge) : '';
      },
    },
    decorations,
  );
}

export function renderJson(plan: JobPlan): string {
  return `${JSON.stringify(planGraph(plan), null, 2)}\n`;
}

/** `decorations`: a run's state per node (`opgraph graph --run`), drawn as colours and counts. */
export function renderGraph(plan: JobPlan, format: GraphFormat, decorations?: GraphDecorations): string {
  switch (format) {
    case 'mermaid':
      return renderMermaid(plan, decorations);
    case 'dot':
      return renderDot(plan, decorations);
    case 'json':
      return decorations ? `${JSON.stringify({ ...planGraph(plan), states: decorations }, null, 2)}\n` : renderJson(plan);
    case 'svg':
      return renderSvg(plan, decorations);
  }
}
