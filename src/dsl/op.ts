import type { Duration } from './duration.ts';
import { In } from './outputs.ts';
import type { DynamicOut, DynamicOutput, Out, Output, RetryPolicy, Schema } from './outputs.ts';
import type { DynamicHandle, Handle } from './handles.ts';
import { invokeNode } from './trace.ts';
import { OpgraphError } from './errors.ts';

export interface OpLogger {
  debug(message: string, attrs?: Record<string, unknown>): void;
  info(message: string, attrs?: Record<string, unknown>): void;
  warn(message: string, attrs?: Record<string, unknown>): void;
  error(message: string, attrs?: Record<string, unknown>): void;
}

/** What an op body receives as its first argument. */
export interface OpContext<C = unknown> {
  readonly log: OpLogger;
  /** The op's config from run config, parsed with the op's `config` schema. */
  readonly opConfig: C;
  readonly runId: string;
  readonly jobName: string;
  /** `compute_piece[3]`. */
  readonly stepKey: string;
  /** The innermost mapping key of a mapped step; undefined outside mapped steps. */
  getMappingKey(): string | undefined;
  /** All mapping keys of a nested mapped step, outermost first; empty outside mapped steps. */
  readonly mappingKeys: readonly string[];
  /** 1 on the first try; counts retries of user-code failures for this step key. */
  readonly attempt: number;
  /** Fires when the run is cancelled or this attempt is abandoned; clean up and return or throw. */
  readonly signal: AbortSignal;
  /** Heartbeats happen automatically; call this to attach progress details. */
  heartbeat(details?: unknown): void;
}

export interface OpTimeouts {
  /** Longest one attempt may run. Default 1 day. */
  startToClose?: Duration;
  /** A worker silent this long is presumed dead and the step is retried elsewhere. Default 30 s. */
  heartbeat?: Duration;
}

type AnyOut = Out<any>;
export type OutSpec = AnyOut | Readonly<Record<string, AnyOut>>;
export type InSpec = In<any> | Schema<any>;

export interface OpConfig<
  C = unknown,
  O extends OutSpec | undefined = OutSpec | undefined,
  N extends Readonly<Record<string, InSpec>> = Readonly<Record<string, InSpec>>,
> {
  /** Defaults to the function's name. Also the Temporal activity type. */
  name?: string;
  /** Input names (and optional schemas) in positional order; defaults to the function's parameter names. */
  ins?: N;
  out?: O;
  /** zod schema for `ctx.opConfig`, checked against run config before a run starts. */
  config?: Schema<C>;
  retryPolicy?: RetryPolicy;
  tags?: Readonly<Record<string, string>>;
  description?: string;
  timeouts?: OpTimeouts;
}

/** The value type an input declaration promises (`In<T>` or a zod schema of T). */
type InValue<S> = S extends In<infer T> ? T : S extends Schema<infer T> ? T : unknown;
/**
 * Compile-time check of an op body's parameters against its `ins` schemas. TypeScript cannot see
 * the order of a record's keys, so with one input the parameter must accept exactly what the
 * schema produces; with several, each parameter must accept what at least one of the schemas
 * produces (a body taking `x: string` for `z.number()` inputs does not compile). The op runner
 * still validates every value at run time.
 */
type InsMismatch<I extends unknown[], N> = string extends keyof N
  ? never
  : {
      [K in keyof I]: K extends `${number}`
        ? [Extract<InValue<N[keyof N]>, I[K]>] extends [never]
          ? IsUnknown<InValue<N[keyof N]>> extends true
            ? never
            : K
          : never
        : never;
    }[number];
type CheckIns<I extends unknown[], N> = [InsMismatch<I, N>] extends [never]
  ? unknown
  : { readonly 'op body parameters do not accept what the ins schemas produce': InsMismatch<I, N> };

/** An op body: context first, then one parameter per input. */
export type OpFn<C, I extends unknown[], R> = (ctx: OpContext<C>, ...inputs: I) => R;

type YieldOf<R> = R extends Generator<infer Y, unknown, unknown> ? Y : R extends AsyncGenerator<infer Y, unknown, unknown> ? Y : never;
type IsGenerator<R> = R extends Generator<unknown, unknown, unknown> | AsyncGenerator<unknown, unknown, unknown> ? true : false;
type DynItemOf<R> = [YieldOf<R>] extends [never]
  ? Awaited<R> extends ReadonlyArray<DynamicOutput<infer T>>
    ? T
    : unknown
  : YieldOf<R> extends DynamicOutput<infer T>
    ? T
    : unknown;
type PlainOf<R> = IsGenerator<R> extends true ? unknown : Awaited<R>;
type IsUnknown<T> = unknown extends T ? ([T] extends [unknown] ? true : false) : false;

export type HandleForOut<X> = X extends DynamicOut<infer T> ? DynamicHandle<T> : X extends Out<infer T> ? Handle<T> : never;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type LastOf<U> = UnionToIntersection<U extends unknown ? () => U : never> extends () => infer R ? R : never;
/** The members of a union as a tuple (in no guaranteed order: only its length is used). */
type UnionToTuple<U, Last = LastOf<U>> = [U] extends [never] ? [] : [...UnionToTuple<Exclude<U, Last>>, Last];
type Repeat<T, N, Acc extends unknown[] = []> = Acc['length'] extends N ? Acc : Repeat<T, N, [...Acc, T]>;

/**
 * Several outputs: a tuple in declaration order that also has named properties.
 * The tuple has one element per output, so `const [values, negatives] = f()` needs no undefined
 * checks (positions past the last output are typed `undefined`). TypeScript cannot see the declaration order
 * of a record's keys, so each element is typed as the union of the outputs; use names for exact types.
 * An output named like an array member (`values`, `keys`, `entries`…) is the handle, not the method:
 * at run time the named property shadows `Array.prototype`, so the type omits those members.
 */
export type MultiResult<O extends Readonly<Record<string, AnyOut>>> = {
  readonly [K in keyof O]: HandleForOut<O[K]>;
} & Omit<
  string extends keyof O
    ? ReadonlyArray<HandleForOut<O[keyof O]>>
    : Readonly<Repeat<HandleForOut<O[keyof O]>, UnionToTuple<keyof O>['length']>>,
  keyof O
>;

type MaybePromise<T> = T | Promise<T>;
type Yielding<Y> = Generator<Y, unknown, unknown> | AsyncGenerator<Y, unknown, unknown>;
/**
 * What an op body may return when its single output declares a value type (`new Out<number>()`,
 * `new DynamicOut({ schema })`), so a body producing something else does not compile. Undeclared
 * (`unknown`) plain outputs accept any body; a DynamicOut body must produce DynamicOutputs, and a
 * multi-output body a record of its outputs or Output / DynamicOutput items. The op runner still checks at run time.
 */
export type BodyResult<O> = [O] extends [undefined]
  ? unknown
  : O extends DynamicOut<infer T>
    ? MaybePromise<readonly DynamicOutput<T>[]> | Yielding<DynamicOutput<T>>
    : O extends Out<infer T>
      ? IsUnknown<T> extends true
        ? unknown
        : MaybePromise<T | Output<T>> | Yielding<Output<T>>
      : O extends Readonly<Record<string, AnyOut>>
        ? MaybePromise<MultiReturn<O> | void> | Yielding<Output<unknown> | DynamicOutput<unknown>>
        : unknown;

/** What a multi-output op may return: a record keyed by its output names (optional outputs may be left out). */
type MultiReturn<O extends Readonly<Record<string, AnyOut>>> = {
  readonly [K in keyof O]?: O[K] extends DynamicOut<infer T>
    ? readonly DynamicOutput<T>[]
    : O[K] extends Out<infer T>
      ? T | Output<T>
      : never;
};

/** What calling an op inside a job or graph returns. */
export type InvocationResult<O, R> = [O] extends [undefined]
  ? Handle<PlainOf<R>>
  : O extends DynamicOut<infer T>
    ? DynamicHandle<IsUnknown<T> extends true ? DynItemOf<R> : T>
    : O extends Out<infer T>
      ? Handle<IsUnknown<T> extends true ? PlainOf<R> : T>
      : O extends Readonly<Record<string, AnyOut>>
        ? MultiResult<O>
        : never;

/** An op argument: a handle of the input's type, or for list inputs a static fan-in list of handles. */
export type Arg<T> = Handle<T> | (T extends readonly (infer E)[] ? readonly Handle<E>[] : never);
/** Unwired inputs (omitted trailing arguments) are supplied by run config. */
export type OpArgs<I extends unknown[]> = { [K in keyof I]?: Arg<I[K]> };

export interface OutputDecl {
  readonly name: string;
  readonly dynamic: boolean;
  readonly required: boolean;
  readonly schema: Schema<unknown> | undefined;
}

export interface InputDecl {
  readonly name: string;
  readonly schema: Schema<unknown> | undefined;
}

/** The runtime description of an op, shared by tracing and the op runner. */
export interface OpSpec {
  readonly kind: 'op';
  readonly name: string;
  readonly inputs: readonly InputDecl[];
  readonly outputs: readonly OutputDecl[];
  /** True when `out` is a record (several outputs). */
  readonly multiOutput: boolean;
  readonly configSchema: Schema<unknown> | undefined;
  readonly retryPolicy: RetryPolicy | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly description: string | undefined;
  readonly timeouts: OpTimeouts;
  readonly fn: (ctx: OpContext<unknown>, ...inputs: unknown[]) => unknown;
}

export interface OpDefinition<C, I extends unknown[], Result> extends OpSpec {
  /** Phantom: the parsed config type this op's body receives as `ctx.opConfig`. */
  readonly __config?: C;
  /** Inside a job or graph: records a node and returns handles to its outputs. */
  (...args: OpArgs<I>): Result;
  /** Invoke under an explicit node name: `echo.alias('first')(x)`. */
  alias(name: string): (...args: OpArgs<I>) => Result;
}

export type AnyOpDefinition = OpDefinition<any, any[], unknown>;

export function op<I extends unknown[], R>(fn: OpFn<unknown, I, R>): OpDefinition<unknown, I, InvocationResult<undefined, R>>;
export function op<
  C,
  I extends unknown[],
  R extends BodyResult<O>,
  O extends OutSpec | undefined = undefined,
  N extends Readonly<Record<string, InSpec>> = Readonly<Record<string, InSpec>>,
>(config: OpConfig<C, O, N>, fn: OpFn<C, I, R> & CheckIns<I, N>): OpDefinition<C, I, InvocationResult<O, R>>;
export function op(
  configOrFn: OpConfig<unknown, OutSpec | undefined, Readonly<Record<string, InSpec>>> | OpFn<unknown, unknown[], unknown>,
  maybeFn?: OpFn<unknown, unknown[], unknown>,
): AnyOpDefinition {
  const config = typeof configOrFn === 'function' ? {} : configOrFn;
  const fn = typeof configOrFn === 'function' ? configOrFn : maybeFn;
  if (typeof fn !== 'function') {
    throw new OpgraphError('op(config, fn): the second argument must be the op body, a function (ctx, ...inputs) => value');
  }
  const name = config.name ?? fn.name;
  if (!name || !/^[A-Za-z0-9_]+$/.test(name)) {
    throw new OpgraphError(
      `op name ${JSON.stringify(name)} is not valid: names must match ^[A-Za-z0-9_]+$; pass { name: 'my_op' } (anonymous functions need an explicit name)`,
    );
  }
  const spec: OpSpec = {
    kind: 'op',
    name,
    inputs: inputDecls(name, config.ins, fn),
    outputs: outputDecls(config.out),
    multiOutput: config.out !== undefined && !isOut(config.out),
    configSchema: config.config,
    retryPolicy: config.retryPolicy,
    tags: { ...config.tags },
    description: config.description,
    timeouts: { ...config.timeouts },
    fn,
  };
  const invoke =
    (alias: string | undefined) =>
    (...args: unknown[]) =>
      invokeNode(spec, alias, args);
  return attachSpec(invoke(undefined), { ...spec, alias: (alias: string) => invoke(alias) }) as AnyOpDefinition;
}

/** Copies `props` onto a function; `name` needs defineProperty because a function's own name is read-only. */
export function attachSpec<F extends (...args: never[]) => unknown>(fn: F, props: object): F {
  for (const [key, value] of Object.entries(props)) {
    Object.defineProperty(fn, key, { value, enumerable: true, configurable: true, writable: false });
  }
  return fn;
}

function isOut(value: unknown): value is AnyOut {
  return typeof value === 'object' && value !== null && 'dynamic' in value && 'isRequired' in value;
}

function outputDecls(out: OutSpec | undefined): OutputDecl[] {
  if (out === undefined) return [{ name: 'result', dynamic: false, required: true, schema: undefined }];
  const entries: [string, AnyOut][] = isOut(out) ? [['result', out]] : Object.entries(out);
  return entries.map(([name, o]) => ({ name, dynamic: o.dynamic, required: o.isRequired, schema: o.schema }));
}

function inputDecls(opName: string, ins: OpConfig['ins'], fn: (...args: never[]) => unknown): InputDecl[] {
  if (ins) {
    return Object.entries(ins).map(([name, decl]) => ({
      name,
      schema: decl instanceof In ? decl.schema : decl,
    }));
  }
  const names = parameterNames(fn).slice(1);
  const count = Math.max(fn.length - 1, names.length, 0);
  return Array.from({ length: count }, (_, i) => {
    const name = names[i];
    if (name === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new OpgraphError(
        `op "${opName}": cannot read the name of input ${i + 1} from the function's parameters; declare inputs with { ins: { name: In } }`,
      );
    }
    return { name, schema: undefined };
  });
}

/** Parameter names of a plain, arrow, async or generator function, read from its source text. */
export function parameterNames(fn: (...args: never[]) => unknown): string[] {
  const source = Function.prototype.toString.call(fn);
  const arrowSingle = /^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(source);
  if (arrowSingle?.[1]) return [arrowSingle[1]];
  const open = source.indexOf('(');
  if (open < 0) return [];
  let depth = 0;
  let close = open;
  for (; close < source.length; close++) {
    const ch = source[close];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) break;
    }
  }
  const params = splitTopLevel(source.slice(open + 1, close));
  return params
    .map((p) => p.replace(/\/\*[\s\S]*?\*\//g, '').trim())
    .filter((p) => p.length > 0)
    .map((p) => /^(?:\.\.\.)?([A-Za-z_$][\w$]*)/.exec(p)?.[1] ?? '');
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    if (ch === ')' || ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}
