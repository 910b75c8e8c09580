/**
 * Builds the opgraph job of a ModelJob with the public DSL only: one op per node (named by opName,
 * so the jobs of one run never share an op name), every `.map` in the given fan-out mode.
 */
import { DynamicHandle, DynamicOut, DynamicOutput, Handle, job, op, Out, Output, RetryPolicy } from '../../src/index.ts';
import type { JobDefinition } from '../../src/index.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { collectHash, fnValue, opName, shapes, type Failing, type ModelJob, type ModelNode, type Ref } from './ast.ts';

export const MODES: readonly FanOutMode[] = ['child', 'activity', 'batch'];

/** The op for one node, or (for a nest) nothing: the ops of a job are made once and shared by its mode variants. */
type AnyOp = (...args: unknown[]) => unknown;

function policy(f: Failing): { retryPolicy?: RetryPolicy } {
  return f.retries > 0 ? { retryPolicy: new RetryPolicy({ maxRetries: f.retries }) } : {};
}

/** Throws when `v` fails on this attempt: always for failOn, on the first attempt for flakyOn. */
function maybeFail(name: string, f: Failing, v: number, attempt: number): void {
  if (f.failOn.includes(v)) throw new Error(`${name}: ${v} always fails`);
  if (f.flakyOn.includes(v) && attempt === 1) throw new Error(`${name}: ${v} fails on attempt 1`);
}

function makeOp(name: string, node: Exclude<ModelNode, { kind: 'nest' }>): AnyOp {
  switch (node.kind) {
    case 'const':
      return op({ name }, async () => node.value);
    case 'emit': {
      const { extraN, n: count, failOn, flakyOn } = node;
      const failing: Failing = node;
      const dynamic = new DynamicOut<number>({ isRequired: node.required });
      const out = extraN !== undefined ? { result: dynamic, extra: new DynamicOut<number>({ isRequired: node.required }) } : dynamic;
      /** A failing attempt yields the first half of each output's items, then throws. */
      async function* items(attempt: number, v: number) {
        const fails = failOn.includes(v) || (flakyOn.includes(v) && attempt === 1);
        const half = (n: number) => (fails ? Math.ceil(n / 2) : n);
        for (let j = 0; j < half(count); j++) yield new DynamicOutput((v + j) % 10, `k${j}`);
        if (extraN !== undefined) {
          for (let j = 0; j < half(extraN); j++) yield new DynamicOutput((v + j + 5) % 10, { mappingKey: `k${j}`, outputName: 'extra' });
        }
        maybeFail(name, failing, v, attempt);
      }
      return (node.input
        ? op({ name, out, ...policy(node) }, async function* (ctx, v: number) {
            yield* items(ctx.attempt, v);
          })
        : op({ name, out, ...policy(node) }, async function* (ctx) {
            yield* items(ctx.attempt, 0);
          })) as unknown as AnyOp;
    }
    case 'collect':
      return op({ name, ...policy(node) }, async (ctx, xs: number[]) => {
        maybeFail(name, node, xs.length, ctx.attempt);
        return collectHash(xs);
      }) as unknown as AnyOp;
    case 'fn': {
      const compute = (ctx: { attempt: number }, x: number, e?: number) => {
        maybeFail(name, node, x, ctx.attempt);
        return fnValue(x, node.mul, node.add, e);
      };
      if (!node.twoOutputs && node.skipOn.length === 0) {
        return (node.extra
          ? op({ name, ...policy(node) }, async (ctx, x: number, e: number) => compute(ctx, x, e))
          : op({ name, ...policy(node) }, async (ctx, x: number) => compute(ctx, x))) as unknown as AnyOp;
      }
      const result = new Out<number>({ isRequired: node.skipOn.length === 0 });
      const out = node.twoOutputs ? { result, extra: new Out<number>() } : result;
      const { skipOn, twoOutputs } = node;
      async function* outputs(r: number) {
        if (!skipOn.includes(r)) yield new Output(r);
        if (twoOutputs) yield new Output((r + 3) % 10, { outputName: 'extra' });
      }
      return (node.extra
        ? op({ name, out, ...policy(node) }, async function* (ctx, x: number, e: number) {
            yield* outputs(compute(ctx, x, e));
          })
        : op({ name, out, ...policy(node) }, async function* (ctx, x: number) {
            yield* outputs(compute(ctx, x));
          })) as unknown as AnyOp;
    }
  }
}

type Built = Handle<unknown> | DynamicHandle<unknown> | Record<string, Handle<unknown> | DynamicHandle<unknown>>;

export interface BuiltJobs {
  readonly jobs: Record<FanOutMode, JobDefinition>;
}

/** The three mode variants of `model` (job names `<prefix>_<mode>`, op names `<prefix>_<path>`). */
export function buildJobs(model: ModelJob, prefix: string): BuiltJobs {
  const ops = new Map<string, AnyOp>();
  const collectOps = (nodes: readonly ModelNode[], path: readonly number[]) =>
    nodes.forEach((node, i) => {
      if (node.kind === 'nest') collectOps(node.body, [...path, i]);
      else ops.set(opName(prefix, [...path, i]), makeOp(opName(prefix, [...path, i]), node));
    });
  collectOps(model.nodes, []);

  const build = (mode: FanOutMode) => {
    const options = mode === 'batch' ? { mode, batchSize: 2 } : { mode };
    const block = (
      nodes: readonly ModelNode[],
      path: readonly number[],
      item: Handle<unknown> | undefined,
      outer: (ref: Ref) => Handle<unknown> | DynamicHandle<unknown> = () => {
        throw new Error('no enclosing block');
      },
    ): Built[] => {
      const built: Built[] = [];
      const shape = shapes(nodes);
      const handle = (ref: Ref): Handle<unknown> | DynamicHandle<unknown> => {
        if (ref.node === 'item') return item!;
        if (ref.node === 'outer') return outer({ node: ref.index, ...(ref.output ? { output: ref.output } : {}) });
        const b = built[ref.node]!;
        if (b instanceof Handle || b instanceof DynamicHandle) return b;
        return b[ref.output ?? 'result']!;
      };
      const asStatic = (ref: Ref) => handle(ref) as Handle<unknown>;
      const asDynamic = (ref: Ref) => handle(ref) as DynamicHandle<unknown>;
      nodes.forEach((node, i) => {
        const name = opName(prefix, [...path, i]);
        const fn = ops.get(name);
        const tuple = (r: unknown): Built => {
          if (!((node.kind === 'fn' && node.twoOutputs) || (node.kind === 'emit' && node.extraN !== undefined))) return r as Built;
          const [result, extra] = r as [Handle<unknown>, Handle<unknown>];
          return { result, extra };
        };
        switch (node.kind) {
          case 'const':
            built.push(fn!() as Built);
            return;
          case 'emit':
            built.push(tuple(node.input ? fn!(asStatic(node.input)) : fn!()));
            return;
          case 'collect':
            built.push(fn!(asDynamic(node.of).collect()) as Built);
            return;
          case 'fn': {
            const extra = node.extra ? [asStatic(node.extra)] : [];
            if (shape[i]!.kind === 'static') built.push(tuple(fn!(asStatic(node.input), ...extra)));
            else built.push(tuple(asDynamic(node.input).map((x) => fn!(x, ...extra) as never, options)));
            return;
          }
          case 'nest':
            built.push(
              asDynamic(node.over).map((x) => {
                const body = block(node.body, [...path, i], x, handle);
                const last = body[body.length - 1]!;
                return (last instanceof Handle ? last : (last as Record<string, Handle<unknown>>).result) as never;
              }, options),
            );
            return;
        }
      });
      return built;
    };
    return job({ name: `${prefix}_${mode}` }, () => {
      block(model.nodes, [], undefined);
    });
  };
  return { jobs: { child: build('child'), activity: build('activity'), batch: build('batch') } };
}
