/**
 * A job's graph as a standalone SVG (`opgraph graph --format svg`, and the run page), laid out
 * here so it needs no Graphviz and no browser library: nodes in layers by longest path from the
 * job's inputs, each map (dynamic dimension) a dashed box around its nodes, edges as arrows.
 * With a run's decorations, nodes are filled by state and mapped nodes show their counts.
 *
 * Elements carry data attributes for the page's script and tests: `g.node[data-node][data-state]`,
 * `g.map[data-map]`.
 */
import { decorationLine, type GraphDecorations, STATE_COLOURS } from './nodeStates.ts';

/** The parts of graph.ts's JobGraph the layout reads (structural, so this module does not import graph.ts). */
export interface SvgGraph {
  job: string;
  nodes: readonly { id: string; dims: readonly string[] }[];
  dimensions: readonly { id: string; parent: string | null }[];
  edges: readonly { from: string; to: string; kind: string }[];
}

export interface SvgLabels {
  node(id: string): string;
  dimension(id: string): string;
  edge(index: number): string;
}

const NODE_WIDTH = 280;
const LINE_HEIGHT = 16;
const H_GAP = 36;
const V_GAP = 64;
const DIM_PAD = 14;
const MARGIN = 24;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function layoutSvg(graph: SvgGraph, labels: SvgLabels, decorations?: GraphDecorations): string {
  const order = new Map(graph.nodes.map((n, i) => [n.id, i]));
  // Layer = longest path from a node without inputs.
  const layer = new Map<string, number>();
  const incoming = new Map<string, string[]>();
  for (const e of graph.edges) incoming.set(e.to, [...(incoming.get(e.to) ?? []), e.from]);
  const layerOf = (id: string, seen = new Set<string>()): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    const value = Math.max(-1, ...(incoming.get(id) ?? []).map((from) => layerOf(from, seen))) + 1;
    layer.set(id, value);
    return value;
  };
  for (const n of graph.nodes) layerOf(n.id);

  const lines = new Map(
    graph.nodes.map((n) => {
      const decoration = decorations?.[n.id];
      const text = decoration ? `${labels.node(n.id)}\n${decorationLine(decoration)}` : labels.node(n.id);
      return [n.id, text.split('\n')];
    }),
  );
  const layers: { id: string; dims: readonly string[] }[][] = [];
  for (const n of graph.nodes) (layers[layer.get(n.id) ?? 0] ??= []).push(n);
  // Nodes of one map side by side, so its box does not take in others.
  for (const row of layers) {
    row?.sort((a, b) => a.dims.join('\u0000').localeCompare(b.dims.join('\u0000')) || (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  }

  const depthBelow = new Map<string, number>();
  const nestedDepth = (dim: string): number => {
    const known = depthBelow.get(dim);
    if (known !== undefined) return known;
    const children = graph.dimensions.filter((d) => d.parent === dim);
    const value = 1 + Math.max(0, ...children.map((c) => nestedDepth(c.id)));
    depthBelow.set(dim, value);
    return value;
  };
  const padOf = (dim: string): number => DIM_PAD * nestedDepth(dim);

  const boxes = new Map<string, Box>();
  let y = MARGIN + DIM_PAD * Math.max(0, ...graph.dimensions.map((d) => nestedDepth(d.id))) + 18;
  const rowWidths: number[] = [];
  const rowPlacements: { id: string; x: number }[][] = [];
  for (const row of layers) {
    const placements: { id: string; x: number }[] = [];
    let x = 0;
    let previous: readonly string[] = [];
    for (const node of row ?? []) {
      // Extra room where a map's box starts or ends between two nodes.
      const leaving = previous.filter((d) => !node.dims.includes(d));
      const entering = node.dims.filter((d) => !previous.includes(d));
      if (placements.length > 0) x += H_GAP + Math.max(0, ...[...leaving, ...entering].map(padOf));
      else x += Math.max(0, ...entering.map(padOf));
      placements.push({ id: node.id, x });
      x += NODE_WIDTH;
      previous = node.dims;
    }
    x += Math.max(0, ...previous.map(padOf));
    rowWidths.push(x);
    rowPlacements.push(placements);
  }
  const width = Math.max(NODE_WIDTH, ...rowWidths);
  rowPlacements.forEach((placements, i) => {
    const offset = MARGIN + (width - (rowWidths[i] ?? 0)) / 2;
    const height = Math.max(0, ...placements.map((p) => (lines.get(p.id)?.length ?? 1) * LINE_HEIGHT + 16));
    for (const p of placements) boxes.set(p.id, { x: offset + p.x, y, width: NODE_WIDTH, height });
    const deepest = Math.max(0, ...placements.map((p) => graph.nodes.find((n) => n.id === p.id)?.dims.length ?? 0));
    y += height + V_GAP + DIM_PAD * deepest;
  });

  const dimBoxes = new Map<string, Box>();
  for (const dim of graph.dimensions) {
    const inside = graph.nodes.filter((n) => n.dims.includes(dim.id)).flatMap((n) => boxes.get(n.id) ?? []);
    if (inside.length === 0) continue;
    const pad = padOf(dim.id);
    const left = Math.min(...inside.map((b) => b.x)) - pad;
    const top = Math.min(...inside.map((b) => b.y)) - pad - 14;
    const right = Math.max(...inside.map((b) => b.x + b.width)) + pad;
    const bottom = Math.max(...inside.map((b) => b.y + b.height)) + pad;
    dimBoxes.set(dim.id, { x: left, y: top, width: right - left, height: bottom - top });
  }

  const totalWidth = width + 2 * MARGIN;
  const totalHeight = Math.max(...[...boxes.values(), ...dimBoxes.values()].map((b) => b.y + b.height), 0) + MARGIN;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="opgraph-graph" width="${totalWidth}" height="${totalHeight}" viewBox="0 0 ${totalWidth} ${totalHeight}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(graph.job)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#546e7a"/></marker></defs>',
  ];
  for (const dim of graph.dimensions) {
    const box = dimBoxes.get(dim.id);
    if (!box) continue;
    out.push(
      `<g class="map" data-map="${xml(dim.id)}"><rect x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" rx="8" fill="#f5f7fa" fill-opacity="0.5" stroke="#78909c" stroke-dasharray="6 4"/>` +
        `<text x="${box.x + 8}" y="${box.y + 14}" fill="#455a64" font-weight="bold">${xml(labels.dimension(dim.id))}</text></g>`,
    );
  }
  graph.edges.forEach((edge, index) => {
    const from = boxes.get(edge.from);
    const to = boxes.get(edge.to);
    if (!from || !to) return;
    const x1 = from.x + from.width / 2;
    const y1 = from.y + from.height;
    const x2 = to.x + to.width / 2;
    const y2 = to.y;
    const bold = edge.kind === 'map' || edge.kind === 'collect';
    const label = labels.edge(index);
    out.push(
      `<g class="edge"><path d="M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}" fill="none" stroke="#546e7a" stroke-width="${bold ? 2.5 : 1.2}" marker-end="url(#arrow)"/>` +
        (label ? `<text x="${(x1 + x2) / 2 + 6}" y="${(y1 + y2) / 2}" fill="#37474f" font-style="italic">${xml(label)}</text>` : '') +
        '</g>',
    );
  });
  for (const node of graph.nodes) {
    const box = boxes.get(node.id);
    if (!box) continue;
    const decoration = decorations?.[node.id];
    const { fill, stroke } = decoration ? STATE_COLOURS[decoration.state] : { fill: '#ffffff', stroke: '#546e7a' };
    const text = (lines.get(node.id) ?? [node.id])
      .map(
        (line, i) =>
          `<tspan x="${box.x + 10}" dy="${i === 0 ? 0 : LINE_HEIGHT}"${i === 0 ? ' font-weight="bold"' : ''}>${xml(line)}</tspan>`,
      )
      .join('');
    out.push(
      `<g class="node" data-node="${xml(node.id)}"${decoration ? ` data-state="${decoration.state}"` : ''} tabindex="0">` +
        `<rect x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" rx="6" fill="${fill}" stroke="${stroke}" stroke-width="2"/>` +
        `<text y="${box.y + 20}">${text}</text></g>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
