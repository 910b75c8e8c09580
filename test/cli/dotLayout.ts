/**
 * Lays out DOT text with real Graphviz (its WebAssembly build) and finds what overlaps: label boxes
 * (nodes, edge labels, external labels, cluster labels) that intersect, and edges drawn through a
 * label box or through a node other than their own ends.
 */
import { Graphviz } from '@hpcc-js/wasm-graphviz';

interface Box {
  what: string;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}
interface Edge {
  what: string;
  from: string;
  to: string;
  points: [number, number][];
}
interface DrawOp {
  op: string;
  points?: [number, number][];
  pt?: [number, number];
  width?: number;
  size?: number;
  text?: string;
}
interface LaidOutObject {
  _gvid: number;
  name: string;
  pos?: string;
  width?: string;
  height?: string;
  shape?: string;
  label?: string;
  _ldraw_?: DrawOp[];
  nodes?: number[];
}
interface LaidOutEdge {
  tail: number;
  head: number;
  _draw_?: DrawOp[];
  _ldraw_?: DrawOp[];
  _xldraw_?: DrawOp[];
}

/** The boxes of the text drawn by `ops` (one per line of text). */
function textBoxes(what: string, ops: DrawOp[] | undefined): Box[] {
  const boxes: Box[] = [];
  let size = 14;
  for (const op of ops ?? []) {
    if (op.op === 'F' && op.size) size = op.size;
    if (op.op === 'T' && op.pt && op.width !== undefined) {
      const [x, y] = op.pt;
      boxes.push({ what: `${what} "${op.text}"`, x0: x - op.width / 2, x1: x + op.width / 2, y0: y - size * 0.25, y1: y + size * 0.8 });
    }
  }
  return boxes;
}

/** Points along a Bézier spline given as Graphviz's control points (1 + 3n points). */
function sample(points: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i + 3 < points.length; i += 3) {
    const [p0, p1, p2, p3] = [points[i]!, points[i + 1]!, points[i + 2]!, points[i + 3]!];
    for (let t = 0; t <= 1; t += 0.02) {
      const u = 1 - t;
      out.push([
        u * u * u * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t * t * t * p3[0],
        u * u * u * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t * t * t * p3[1],
      ]);
    }
  }
  return out;
}

const intersects = (a: Box, b: Box): boolean => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
const inside = ([x, y]: [number, number], b: Box): boolean => x > b.x0 && x < b.x1 && y > b.y0 && y < b.y1;

/** Every collision in the layout of `dot`, described; empty when nothing collides. */
export async function layoutCollisions(dot: string): Promise<string[]> {
  const graphviz = await Graphviz.load();
  const layout = JSON.parse(graphviz.layout(dot, 'json', 'dot')) as { objects?: LaidOutObject[]; edges?: LaidOutEdge[] };
  const objects = layout.objects ?? [];
  const nameOf = new Map(objects.map((o) => [o._gvid, o.name]));
  const nodes: Box[] = [];
  const labels: Box[] = [];
  for (const object of objects) {
    if (object.nodes) {
      labels.push(...textBoxes(`label of ${object.name}`, object._ldraw_));
      continue;
    }
    const [x, y] = (object.pos ?? '0,0').split(',').map(Number) as [number, number];
    const w = (Number(object.width) * 72) / 2;
    const h = (Number(object.height) * 72) / 2;
    nodes.push({ what: `node ${object.name}`, x0: x - w, x1: x + w, y0: y - h, y1: y + h });
  }
  const edges: Edge[] = [];
  for (const edge of layout.edges ?? []) {
    const from = nameOf.get(edge.tail) ?? '?';
    const to = nameOf.get(edge.head) ?? '?';
    const what = `edge ${from} -> ${to}`;
    labels.push(...textBoxes(`label of ${what}`, edge._ldraw_), ...textBoxes(`xlabel of ${what}`, edge._xldraw_));
    const spline = (edge._draw_ ?? []).find((op) => op.op === 'b')?.points ?? [];
    edges.push({ what, from, to, points: sample(spline) });
  }
  const collisions: string[] = [];
  const boxes = [...nodes, ...labels];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      if (intersects(boxes[i]!, boxes[j]!)) collisions.push(`${boxes[i]!.what} overlaps ${boxes[j]!.what}`);
    }
  }
  for (const edge of edges) {
    const ends = new Set([`node ${edge.from}`, `node ${edge.to}`]);
    for (const box of boxes) {
      if (ends.has(box.what) || box.what.startsWith(`label of ${edge.what} `)) continue;
      if (edge.points.some((p) => inside(p, box))) collisions.push(`${edge.what} crosses ${box.what}`);
    }
  }
  return collisions;
}
