/**
 * The reference: a plain recursive in-memory evaluator of Dagster's dynamic-graph semantics
 * (shared/reference/dagster-semantics.md §1.7, §3, §4.3, §6), independent of src/.
 *
 * One deliberate choice follows the project rather than Dagster: when a fan-out op fails (or is
 * abandoned), Dagster leaves the consumers of its `.collect()` out of the plan; opgraph reports them
 * ABANDONED (test/engine/semantics.test.ts "a failed fan-out abandons its collect consumer").
 */
import { collectHash, dimId, fnValue, opName, shapes, type Failing, type ModelJob, type ModelNode, type Ref } from './ast.ts';

export type Status = 'SUCCESS' | 'FAILURE' | 'SKIPPED' | 'ABANDONED';

/** One step's outcome: its status and the outputs it produced (absent ones were not yielded). */
interface StepOut {
  readonly status: Status;
  readonly outputs: ReadonlyMap<string, number>;
}

/** A fan-out's mapping: its items in yield order, `none` (skipped or optional with zero items), or unresolved (failed). */
type Dim = { readonly kind: 'resolved'; readonly items: readonly (readonly [string, number])[] } | { readonly kind: 'none' | 'unresolved' };

type Val =
  | { readonly kind: 'static'; readonly step: StepOut }
  /** A fan-out op: its step and the mapping of each dynamic output. */
  | { readonly kind: 'dynamic'; readonly step: StepOut; readonly dims: ReadonlyMap<string, Dim> }
  /** Per key of the dimension `dim` (`<emit index>:<output>`), in yield order (empty when it did not resolve). */
  | { readonly kind: 'mapped'; readonly dim: string; readonly perKey: ReadonlyMap<string, StepOut> };

/** What `outputFor(node, output)` returns: a value (static node) or keyed entries in yield order. */
export interface ExpectedOutput {
  readonly keyed: boolean;
  readonly entries: (readonly [string, number])[];
}

export interface Expected {
  readonly success: boolean;
  readonly statuses: Record<string, Status>;
  /** Per op name, per output name. */
  readonly outputs: Map<string, Map<string, ExpectedOutput>>;
}

type Input =
  | { readonly kind: 'single'; readonly from: StepOut; readonly output: string }
  | {
      readonly kind: 'collect';
      readonly emitStep: StepOut;
      readonly dim: Dim;
      readonly items: readonly StepOut[];
      readonly output: string;
    };

const SUCCESS_ITEM = (value: number, output: string): StepOut => ({ status: 'SUCCESS', outputs: new Map([[output, value]]) });

export function evaluate(job: ModelJob, prefix: string): Expected {
  const statuses: Record<string, Status> = {};
  const outputs = new Map<string, Map<string, ExpectedOutput>>();

  const record = (name: string, keys: readonly string[], step: StepOut, keyed: boolean) => {
    statuses[keys.length > 0 ? `${name}[${keys.join(',')}]` : name] = step.status;
    const byOutput = outputs.get(name) ?? new Map<string, ExpectedOutput>();
    outputs.set(name, byOutput);
    for (const [output, value] of step.outputs) {
      const entry = byOutput.get(output) ?? { keyed, entries: [] };
      byOutput.set(output, entry);
      entry.entries.push([keys.join(','), value]);
    }
  };
  /** Declares a node's outputs (so an output never produced is expected to be missing). */
  const declare = (name: string, names: readonly string[], keyed: boolean) => {
    const byOutput = outputs.get(name) ?? new Map<string, ExpectedOutput>();
    outputs.set(name, byOutput);
    for (const n of names) if (!byOutput.has(n)) byOutput.set(n, { keyed, entries: [] });
  };

  /** Dagster's ActiveExecution rule for one step: abandon, skip, or run `body` on the input values. */
  const step = (
    inputs: readonly Input[],
    failing: Failing,
    failValue: (vals: (number | number[])[]) => number,
    body: (vals: (number | number[])[]) => Map<string, number>,
  ): StepOut => {
    const producers = inputs.flatMap((i) => (i.kind === 'single' ? [i.from] : [i.emitStep, ...i.items]));
    if (producers.some((p) => p.status === 'FAILURE' || p.status === 'ABANDONED')) return { status: 'ABANDONED', outputs: new Map() };
    const skipped = inputs.some((i) => {
      if (i.kind === 'single') return !i.from.outputs.has(i.output);
      if (i.dim.kind !== 'resolved') return true;
      return i.items.length > 0 && i.items.every((s) => !s.outputs.has(i.output));
    });
    if (skipped) return { status: 'SKIPPED', outputs: new Map() };
    const vals = inputs.map((i) =>
      i.kind === 'single'
        ? i.from.outputs.get(i.output)!
        : i.items.flatMap((s) => (s.outputs.has(i.output) ? [s.outputs.get(i.output)!] : [])),
    );
    const v = failValue(vals);
    if (failing.failOn.includes(v) || (failing.flakyOn.includes(v) && failing.retries === 0))
      return { status: 'FAILURE', outputs: new Map() };
    return { status: 'SUCCESS', outputs: body(vals) };
  };

  const block = (
    nodes: readonly ModelNode[],
    path: readonly number[],
    keys: readonly string[],
    item: StepOut | undefined,
    outer: (ref: Ref) => Val = () => {
      throw new Error('no enclosing block');
    },
  ): Val[] => {
    const vals: Val[] = [];
    const shape = shapes(nodes);
    const nested = keys.length > 0;
    const valOf = (ref: Ref): Val => {
      if (ref.node === 'item') return { kind: 'static', step: item! };
      if (ref.node === 'outer') return outer({ node: ref.index });
      return vals[ref.node]!;
    };
    const out = (ref: Ref): string => (ref.node === 'item' ? 'result' : (ref.output ?? 'result'));
    /** The keys and per-key producer of a dynamic or mapped ref (the emit's items for a raw fan-out). */
    const perKeyOf = (ref: Ref): { dimId: string; dim: Dim; emitStep: StepOut; perKey: [string, StepOut][] } => {
      const v = valOf(ref);
      if (v.kind === 'dynamic') {
        const dim = v.dims.get(out(ref))!;
        const items = dim.kind === 'resolved' ? dim.items.map(([k, x]) => [k, SUCCESS_ITEM(x, out(ref))] as [string, StepOut]) : [];
        return { dimId: dimId(ref.node as number, out(ref)), dim, emitStep: v.step, perKey: items };
      }
      if (v.kind !== 'mapped') throw new Error('static ref used as dynamic');
      const [e, o] = v.dim.split(':') as [string, string];
      const ev = vals[Number(e)] as Extract<Val, { kind: 'dynamic' }>;
      return { dimId: v.dim, dim: ev.dims.get(o)!, emitStep: ev.step, perKey: [...v.perKey] };
    };
    const single = (ref: Ref, from: StepOut): Input => ({ kind: 'single', from, output: out(ref) });

    nodes.forEach((node, i) => {
      const fullName = opName(prefix, [...path, i]);
      switch (node.kind) {
        case 'const': {
          const s: StepOut = { status: 'SUCCESS', outputs: new Map([['result', node.value]]) };
          record(fullName, keys, s, nested);
          vals.push({ kind: 'static', step: s });
          return;
        }
        case 'emit': {
          const names = node.extraN !== undefined ? ['result', 'extra'] : ['result'];
          declare(fullName, names, true);
          const inputs = node.input ? [single(node.input, (valOf(node.input) as Extract<Val, { kind: 'static' }>).step)] : [];
          let v = 0;
          const s = step(
            inputs,
            node,
            (x) => (node.input ? (x[0] as number) : 0),
            (x) => {
              v = node.input ? (x[0] as number) : 0;
              return new Map();
            },
          );
          statuses[keys.length > 0 ? `${fullName}[${keys.join(',')}]` : fullName] = s.status;
          const dims = new Map<string, Dim>();
          for (const output of names) {
            const [count, shift] = output === 'result' ? [node.n, 0] : [node.extraN!, 5];
            const items = Array.from({ length: count }, (_, j) => [`k${j}`, (v + j + shift) % 10] as const);
            let dim: Dim;
            if (s.status === 'SUCCESS') dim = items.length === 0 && !node.required ? { kind: 'none' } : { kind: 'resolved', items };
            else dim = { kind: s.status === 'SKIPPED' ? 'none' : 'unresolved' };
            if (dim.kind === 'resolved') {
              const entry = outputs.get(fullName)!.get(output)!;
              for (const [k, x] of dim.items) entry.entries.push([[...keys, k].join(','), x]);
            }
            dims.set(output, dim);
          }
          vals.push({ kind: 'dynamic', step: s, dims });
          return;
        }
        case 'fn': {
          const names = node.twoOutputs ? ['result', 'extra'] : ['result'];
          const extraStep = node.extra ? (valOf(node.extra) as Extract<Val, { kind: 'static' }>).step : undefined;
          const run = (x: StepOut): StepOut =>
            step(
              [single(node.input, x), ...(node.extra ? [single(node.extra, extraStep!)] : [])],
              node,
              (v) => v[0] as number,
              (v) => {
                const r = fnValue(v[0] as number, node.mul, node.add, v[1] as number | undefined);
                const m = new Map<string, number>();
                if (!node.skipOn.includes(r)) m.set('result', r);
                if (node.twoOutputs) m.set('extra', (r + 3) % 10);
                return m;
              },
            );
          if (shape[i]!.kind === 'static') {
            declare(fullName, names, nested);
            const s = run((valOf(node.input) as Extract<Val, { kind: 'static' }>).step);
            record(fullName, keys, s, nested);
            vals.push({ kind: 'static', step: s });
            return;
          }
          declare(fullName, names, true);
          const { dimId: dim, perKey } = perKeyOf(node.input);
          const results = new Map<string, StepOut>();
          for (const [k, x] of perKey) {
            const s = run(x);
            record(fullName, [...keys, k], s, true);
            results.set(k, s);
          }
          vals.push({ kind: 'mapped', dim, perKey: results });
          return;
        }
        case 'collect': {
          declare(fullName, ['result'], nested);
          const { dim, emitStep, perKey } = perKeyOf(node.of);
          const s = step(
            [{ kind: 'collect', emitStep, dim, items: perKey.map(([, x]) => x), output: out(node.of) }],
            node,
            (v) => (v[0] as number[]).length,
            (v) => new Map([['result', collectHash(v[0] as number[])]]),
          );
          record(fullName, keys, s, nested);
          vals.push({ kind: 'static', step: s });
          return;
        }
        case 'nest': {
          const { dimId: dim, perKey } = perKeyOf(node.over);
          const results = new Map<string, StepOut>();
          const output = out(node.over);
          for (const [k, x] of perKey) {
            const itemStep: StepOut = {
              status: x.status,
              outputs: x.outputs.has(output) ? new Map([['result', x.outputs.get(output)!]]) : new Map(),
            };
            const body = block(node.body, [...path, i], [...keys, k], itemStep, valOf);
            results.set(k, (body[body.length - 1] as Extract<Val, { kind: 'static' }>).step);
          }
          if (perKey.length === 0) declareBody(node.body, [...path, i]);
          vals.push({ kind: 'mapped', dim, perKey: results });
          return;
        }
      }
    });
    return vals;
  };
  /** A nest body that never ran still declares its nodes (their outputs are all missing). */
  const declareBody = (nodes: readonly ModelNode[], path: readonly number[]) => {
    nodes.forEach((node, i) => {
      const name = opName(prefix, [...path, i]);
      if (node.kind === 'nest') declareBody(node.body, [...path, i]);
      else
        declare(
          name,
          (node.kind === 'fn' && node.twoOutputs) || (node.kind === 'emit' && node.extraN !== undefined) ? ['result', 'extra'] : ['result'],
          true,
        );
    });
  };

  block(job.nodes, [], [], undefined);
  return { success: !Object.values(statuses).some((s) => s === 'FAILURE' || s === 'ABANDONED'), statuses, outputs };
}
