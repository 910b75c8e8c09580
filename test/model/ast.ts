/**
 * A generated job as plain data: a block of nodes (the job body, or the body of a nested `.map`),
 * each naming its inputs by index in the same block. Both the opgraph job (build.ts) and the
 * reference evaluation (reference.ts) are derived from it, so a counterexample is this data.
 *
 * Values are small integers (0..9 for op results) so that failure / skip sets hit often.
 */
import fc from 'fast-check';

/** An input: a node of the same block (one of its outputs), or the block's item (nest bodies only). */
export type Ref =
  | { readonly node: number; readonly output?: 'result' | 'extra' }
  | { readonly node: 'item' }
  /** A static node of the enclosing (top) block, used inside a nest body: a closure over a static value. */
  | { readonly node: 'outer'; readonly index: number; readonly output?: 'result' | 'extra' };

/** When an op fails: `failOn` (always) / `flakyOn` (first attempt only) list the input values that fail. */
export interface Failing {
  readonly failOn: readonly number[];
  readonly flakyOn: readonly number[];
  /** RetryPolicy maxRetries (0: no policy). */
  readonly retries: number;
}

export type ModelNode =
  /** A static op without inputs returning `value`. Top block only. */
  | { readonly kind: 'const'; readonly value: number }
  /**
   * A DynamicOut op: yields `n` items `DynamicOutput((v + j) % 10, 'k' + j)`, with v its input (0 without).
   * A failing attempt yields the first half of its items, then throws. `required: false` declares
   * `DynamicOut({ isRequired: false })`.
   */
  | ({
      readonly kind: 'emit';
      readonly input?: Ref;
      readonly n: number;
      readonly required: boolean;
      /** A second DynamicOut `extra` (same `required`) yielding `extraN` items `((v + j + 5) % 10, 'k' + j)`, after the first's. */
      readonly extraN?: number;
    } & Failing)
  /**
   * An op of one input x (and an optional static `extra` e): result = (x·mul + add + e) % 10, not yielded
   * when in `skipOn` (then declared optional); `twoOutputs` adds output `extra` = (result + 3) % 10.
   * Failure sets are checked against x.
   */
  | ({
      readonly kind: 'fn';
      readonly input: Ref;
      readonly extra?: Ref;
      readonly mul: number;
      readonly add: number;
      readonly skipOn: readonly number[];
      readonly twoOutputs: boolean;
    } & Failing)
  /** An op over `of.collect()`: an order-sensitive hash of the list. Failure sets are checked against the list's length. */
  | ({ readonly kind: 'collect'; readonly of: Ref } & Failing)
  /** `over.map((x) => body)`: the body's last node (static within the body) is the mapped result. */
  | { readonly kind: 'nest'; readonly over: Ref; readonly body: readonly ModelNode[] };

export interface ModelJob {
  readonly nodes: readonly ModelNode[];
}

/** The order-sensitive hash a collect op returns. */
export function collectHash(xs: readonly number[]): number {
  return xs.reduce((acc, x) => (acc * 7 + x + 1) % 1000, 0);
}

export function fnValue(x: number, mul: number, add: number, extra: number | undefined): number {
  return (x * mul + add + (extra ?? 0)) % 10;
}

/** What a node stands for inside its block: static, a dynamic output, or mapped over a block emit. */
export type Shape = { readonly kind: 'static' } | { readonly kind: 'dynamic' } | { readonly kind: 'mapped'; readonly dim: string };

/** A dimension: `<emit index>:<output>` of a block emit. */
export function dimId(node: number, output: string | undefined): string {
  return `${node}:${output ?? 'result'}`;
}

/** The dimension of a block ref, if it is dynamic or mapped. */
function dimOfShape(sh: readonly Shape[], ref: Ref): string | undefined {
  if (typeof ref.node !== 'number') return undefined;
  const s = sh[ref.node]!;
  return s.kind === 'dynamic' ? dimId(ref.node, 'output' in ref ? ref.output : undefined) : s.kind === 'mapped' ? s.dim : undefined;
}

export function shapes(nodes: readonly ModelNode[]): Shape[] {
  const out: Shape[] = [];
  const of = (ref: Ref): Shape => (typeof ref.node !== 'number' ? { kind: 'static' } : out[ref.node]!);
  const dimOf = (ref: Ref): string => {
    const d = dimOfShape(out, ref);
    if (d === undefined) throw new Error('not dynamic');
    return d;
  };
  for (const node of nodes) {
    switch (node.kind) {
      case 'const':
      case 'emit':
        out.push(node.kind === 'emit' ? { kind: 'dynamic' } : { kind: 'static' });
        break;
      case 'collect':
        out.push({ kind: 'static' });
        break;
      case 'fn':
        out.push(of(node.input).kind === 'static' ? { kind: 'static' } : { kind: 'mapped', dim: dimOf(node.input) });
        break;
      case 'nest':
        out.push({ kind: 'mapped', dim: dimOf(node.over) });
        break;
    }
  }
  return out;
}

const int = (g: fc.GeneratorValue, min: number, max: number): number => g(fc.integer, { min, max });
const chance = (g: fc.GeneratorValue, percent: number): boolean => int(g, 0, 99) < percent;

function failing(g: fc.GeneratorValue, domain: number, failPercent: number): Failing {
  const failOn = chance(g, failPercent) ? [int(g, 0, domain - 1)] : [];
  const flakyOn = chance(g, failPercent) ? [int(g, 0, domain - 1)] : [];
  const retries = chance(g, 40) ? int(g, 1, 2) : 0;
  return { failOn, flakyOn, retries };
}

function pick<T>(g: fc.GeneratorValue, xs: readonly T[]): T {
  return xs[int(g, 0, xs.length - 1)]!;
}

/** A block: the top one (`depth` 0) starts from consts / emits; a nest body starts from its item. */
function genBlock(g: fc.GeneratorValue, options: GenOptions, depth: number, size: number, outer: readonly Ref[] = []): ModelNode[] {
  const nodes: ModelNode[] = [];
  const nested = depth > 0;
  const refsOf = (want: (s: Shape) => boolean): Ref[] => {
    const sh = shapes(nodes);
    const refs: Ref[] = nested && want({ kind: 'static' }) ? [{ node: 'item' }] : [];
    sh.forEach((s, i) => {
      if (!want(s)) return;
      const n = nodes[i]!;
      refs.push({ node: i });
      if ((n.kind === 'fn' && n.twoOutputs) || (n.kind === 'emit' && n.extraN !== undefined)) refs.push({ node: i, output: 'extra' });
    });
    return refs;
  };
  const emit = (input?: Ref): ModelNode => ({
    kind: 'emit',
    ...(input ? { input } : {}),
    n: int(g, 0, 5),
    required: !chance(g, 20),
    ...(options.twoDynamicOutputs && chance(g, 15) ? { extraN: int(g, 0, 4) } : {}),
    ...failing(g, 10, 12),
  });
  // First node: nested bodies consume their item; the top block starts with a fan-out or a const.
  if (nested) nodes.push(chance(g, 50) ? emit({ node: 'item' }) : fnNode({ node: 'item' }));
  else nodes.push(chance(g, 75) ? emit() : { kind: 'const', value: int(g, 0, 9) });
  while (nodes.length < size) {
    const statics = refsOf((s) => s.kind === 'static');
    const dynamics = refsOf((s) => s.kind !== 'static');
    const kinds: string[] = ['emit', 'fn', 'fn'];
    if (dynamics.length > 0) kinds.push('collect', 'collect', 'collect', 'map', 'map', 'map', 'map');
    if (dynamics.length > 0 && depth === 0) kinds.push('nest', 'nest');
    if (!nested) kinds.push('const');
    const kind = pick(g, kinds);
    if (kind === 'const') nodes.push({ kind: 'const', value: int(g, 0, 9) });
    else if (kind === 'emit')
      nodes.push(emit(statics.length > 0 && chance(g, 60) ? pick(g, statics) : nested ? { node: 'item' } : undefined));
    else if (kind === 'fn') nodes.push(fnNode(pick(g, [...statics, ...dynamics])));
    else if (kind === 'map') nodes.push(fnNode(pick(g, dynamics)));
    else if (kind === 'collect') nodes.push({ kind: 'collect', of: pick(g, dynamics), ...failing(g, 6, 8) });
    else
      nodes.push({
        kind: 'nest',
        over: pick(g, dynamics),
        body: genBlock(
          g,
          options,
          depth + 1,
          int(g, 1, 4),
          refsOf((s) => s.kind === 'static').flatMap((r) =>
            typeof r.node === 'number'
              ? [{ node: 'outer' as const, index: r.node, ...('output' in r && r.output ? { output: r.output } : {}) }]
              : [],
          ),
        ),
      });
  }
  // A nest body ends with a node static within the body: collect whatever it ended with.
  if (nested) {
    const last = shapes(nodes)[nodes.length - 1]!;
    if (last.kind !== 'static') nodes.push({ kind: 'collect', of: { node: nodes.length - 1 }, ...failing(g, 6, 8) });
  }
  return nodes;

  function fnNode(input: Ref): ModelNode {
    const statics = refsOf((s) => s.kind === 'static');
    // A stage: a mapped op that also takes a collect of its own dimension.
    const sh = shapes(nodes);
    const dim = dimOfShape(sh, input);
    const stages = nodes.flatMap((n, i) =>
      n.kind === 'collect' && dim !== undefined && dimOfShape(sh, n.of) === dim ? [{ node: i }] : [],
    );
    const extra =
      stages.length > 0 && chance(g, 50)
        ? pick(g, stages)
        : outer.length > 0 && chance(g, 30)
          ? pick(g, outer)
          : statics.length > 0 && chance(g, 30)
            ? pick(g, statics)
            : undefined;
    return {
      kind: 'fn',
      input,
      ...(extra ? { extra } : {}),
      mul: int(g, 1, 9),
      add: int(g, 0, 9),
      skipOn: chance(g, 20) ? [int(g, 0, 9)] : [],
      twoOutputs: chance(g, 15),
      ...failing(g, 10, 15),
    };
  }
}

export interface GenOptions {
  /**
   * Fan-out ops with a second DynamicOut whose mapping keys repeat the first's (Dagster allows it).
   * Off in the CI sample while the collisions in test/model/regressions.test.ts are open.
   */
  readonly twoDynamicOutputs: boolean;
}

/** Random small jobs: 2–7 top-level nodes, ≤ 5 items per fan-out, nest bodies of 1–4 nodes (+ a collect). */
export function modelJobArb(options: GenOptions = { twoDynamicOutputs: true }): fc.Arbitrary<ModelJob> {
  return fc.gen().map((g) => ({ nodes: genBlock(g, options, 0, int(g, 2, 7)) }));
}

/** How many ops (top-level and nested) a job has. */
export function opCount(nodes: readonly ModelNode[]): number {
  return nodes.reduce((n, node) => n + (node.kind === 'nest' ? opCount(node.body) : 1), 0);
}

/** The op name of a node: `<prefix>_<index>`, nested body nodes `<prefix>_<nest index>_<body index>`. */
export function opName(prefix: string, path: readonly number[]): string {
  return `${prefix}_${path.join('_')}`;
}
