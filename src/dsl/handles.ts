import type { DimensionOptions, OutputRef } from './plan.ts';

/** How a map's keys run; see DimensionOptions. */
export type MapOptions = DimensionOptions;
import type { Tracer } from './trace.ts';
import { currentTracer } from './tracing.ts';

export type HandleKind = 'output' | 'item' | 'collect';

/**
 * A reference, inside a job or graph body, to a value some op will produce at run time.
 * `T` is the value type, so wiring a handle into an input of another type does not compile.
 */
export class Handle<T> {
  declare readonly __value?: T;
  readonly kind: HandleKind;
  readonly node: string;
  readonly output: string;

  constructor(kind: HandleKind, ref: OutputRef) {
    this.kind = kind;
    this.node = ref.node;
    this.output = ref.output;
  }
}

/** The result of `DynamicHandle.map`: one dynamic handle per handle the callable returned. */
export type MapResult<R> =
  R extends Handle<infer U>
    ? DynamicHandle<U>
    : R extends DynamicHandle<unknown>
      ? R
      : R extends readonly unknown[]
        ? { readonly [K in keyof R]: R[K] extends Handle<infer U> ? DynamicHandle<U> : never }
        : R extends void
          ? void
          : never;

/**
 * A dynamic output, or the per-key result of mapping one. It cannot be passed to an op directly:
 * use `.map(fn)` to run `fn`'s ops once per mapping key, or `.collect()` to gather all items as a list.
 */
export class DynamicHandle<T> {
  declare readonly __dynamic?: T;
  readonly node: string;
  readonly output: string;
  /** True for an op's own DynamicOut; false for the result of `.map`. */
  readonly raw: boolean;
  private readonly tracer: Tracer;

  constructor(ref: OutputRef, raw: boolean, tracer: Tracer) {
    this.node = ref.node;
    this.output = ref.output;
    this.raw = raw;
    this.tracer = tracer;
    // Dagster C3: indexing a dynamic output is a mistake that should say so.
    return new Proxy(this, {
      get(target, prop, receiver) {
        if (typeof prop === 'string' && /^\d+$/.test(prop)) {
          throw target.tracer.misuse(
            'C3',
            target.node,
            `attempted to index into the dynamic output "${target.output}" of op "${target.node}"`,
            'use .map(fn) to run ops per item or .collect() to get the list',
          );
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
  }

  /**
   * Runs `fn` once, at definition time, with a handle to one item; its ops are cloned per mapping key.
   * `options` choose how the keys run: `{ mode: 'child' | 'activity' | 'batch', batchSize, maxConcurrency, shardSize }`,
   * and how many may fail without failing the run: `toleratedFailures: { count } | { ratio }` (the
   * collect then gets the other keys' values; the failed keys are listed on the run's result).
   */
  map<R>(fn: (item: Handle<T>) => R, options?: MapOptions): MapResult<R> {
    const tracer = currentTracer('.map()');
    if (options) tracer.recordMapOptions(this, options);
    const item = new Handle<T>(this.raw ? 'item' : 'output', this);
    return tracer.wrapMapResult(
      tracer.withMapFrame(this, () => fn(item)),
      this,
    ) as MapResult<R>;
  }

  /** All items, in yield order, as one list for a downstream op. */
  collect(): Handle<T[]> {
    currentTracer('.collect()');
    return new Handle<T[]>('collect', this);
  }

  /** Dagster C4: aliasing belongs on the op, before the call. */
  alias(_name: string): never {
    throw this.tracer.misuse(
      'C4',
      this.node,
      `called alias() on the dynamic output of op "${this.node}"`,
      `alias the op before calling it: ${this.node}.alias('new_name')(...) — check the location of parentheses`,
    );
  }
}

// Dagster C2: iterating a dynamic output at definition time cannot work; say what to do instead.
Object.defineProperty(DynamicHandle.prototype, Symbol.iterator, {
  value(this: DynamicHandle<unknown>): never {
    throw currentTracer('iteration').misuse(
      'C2',
      this.node,
      `attempted to iterate over the dynamic output "${this.output}" of op "${this.node}"; its items exist only at run time`,
      'use .map(fn): fn runs once at definition time and its ops are cloned for each item resolved at run time',
    );
  },
});
