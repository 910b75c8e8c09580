import { type DefinitionIssue, JobDefinitionError } from './errors.ts';
import { DynamicHandle, Handle } from './handles.ts';
import type { OpSpec } from './op.ts';
import { currentTracer, withTracer } from './tracing.ts';
import { BUDGET, MAP_OPTION_BOUNDS, maxShardSize } from './limits.ts';
import { toleratedFailuresProblems } from './tolerance.ts';
import {
  type DimensionOptions,
  DimensionOptions as DimensionOptionsSchema,
  type GraphOutput,
  type InputSource,
  type OutputRef,
} from './plan.ts';

/** A `.map()` callable running while a node was invoked: the handle it maps over. */
export interface MapFrame {
  readonly ref: OutputRef;
  /** True when mapping an op's own DynamicOut; false for the result of an earlier `.map`. */
  readonly raw: boolean;
}

/** A node as recorded while a job body runs: which op, under which path, wired to what. */
export interface TracedNode {
  readonly id: string;
  readonly spec: OpSpec;
  readonly inputs: readonly { name: string; source: InputSource }[];
  /** The `.map()` callables the node was invoked inside, outermost first. */
  readonly frames: readonly MapFrame[];
}

/**
 * Records op invocations while a job body runs. Bodies run synchronously, once, at definition
 * time, so one active tracer at a time is enough.
 */
export class Tracer {
  readonly jobName: string;
  readonly nodes: TracedNode[] = [];
  readonly issues: DefinitionIssue[] = [];
  /** `.map(fn, options)` calls, resolved to dimensions by the planner. */
  readonly mapOptions: { ref: OutputRef; raw: boolean; options: DimensionOptions }[] = [];
  /** Per graph node id, its outputs by name: what the graph body returned (see recordGraphOutputs). */
  readonly graphOutputs: Record<string, Record<string, GraphOutput>> = {};
  private readonly frames: MapFrame[] = [];
  private readonly prefixes: string[] = [''];
  private readonly usedIds = new Set<string>();
  private readonly invocationCounts = new Map<string, number>();

  constructor(jobName: string) {
    this.jobName = jobName;
  }

  issue(code: string, node: string | undefined, message: string, fix: string): void {
    this.issues.push({ code, job: this.jobName, ...(node === undefined ? {} : { node }), message, fix });
  }

  /** An error to throw at once, for misuse that leaves nothing sensible to keep tracing (Dagster's invariant violations). */
  misuse(code: string, node: string, message: string, fix: string): JobDefinitionError {
    return new JobDefinitionError(this.jobName, [{ code, job: this.jobName, node, message, fix }]);
  }

  /** `echo`, then `echo_2`, `echo_3`… within the current graph prefix; explicit aliases must be unique. */
  allocateNodeId(name: string, explicit: boolean): string {
    const prefix = this.prefixes[this.prefixes.length - 1] ?? '';
    let id = `${prefix}${name}`;
    if (explicit) {
      if (this.usedIds.has(id)) {
        this.issue(
          'duplicate-alias',
          id,
          `the name "${name}" is used by more than one invocation`,
          'give each invocation a distinct alias',
        );
      }
    } else {
      let count = this.invocationCounts.get(id) ?? 0;
      const base = id;
      do {
        count += 1;
        id = count === 1 ? base : `${base}_${count}`;
      } while (this.usedIds.has(id));
      this.invocationCounts.set(base, count);
    }
    this.usedIds.add(id);
    return id;
  }

  withPrefix<R>(prefix: string, body: () => R): R {
    this.prefixes.push(prefix);
    try {
      return body();
    } finally {
      this.prefixes.pop();
    }
  }

  /** Runs a `.map()` callable: nodes invoked inside it record that they are inside a map over `handle`. */
  withMapFrame<R>(handle: DynamicHandle<unknown>, body: () => R): R {
    this.frames.push({ ref: { node: handle.node, output: handle.output }, raw: handle.raw });
    try {
      return body();
    } finally {
      this.frames.pop();
    }
  }

  /** The `.map()` callables running now, outermost first. */
  currentFrames(): readonly MapFrame[] {
    return [...this.frames];
  }

  /**
   * What a graph body returned, as the graph's outputs (Dagster's graph output mappings): a handle
   * is output `result`; a multi-output op's tuple keeps its output names; a record of handles is
   * named by key; any other array of handles by position (`"0"`, `"1"`…).
   */
  recordGraphOutputs(graphId: string, returned: unknown): void {
    const outputs: Record<string, GraphOutput> = {};
    const single = graphOutput(returned);
    if (single) {
      outputs['result'] = single;
    } else if (Array.isArray(returned)) {
      const named = Object.getOwnPropertyNames(returned).filter((name) => name !== 'length' && !/^\d+$/.test(name));
      if (named.length > 0) {
        for (const name of named) {
          const found = graphOutput((returned as unknown as Record<string, unknown>)[name]);
          if (found) outputs[name] = found;
        }
      } else {
        returned.forEach((item: unknown, index) => {
          const found = graphOutput(item);
          if (found) outputs[String(index)] = found;
        });
      }
    } else if (typeof returned === 'object' && returned !== null && Object.getPrototypeOf(returned) === Object.prototype) {
      for (const [name, item] of Object.entries(returned)) {
        const found = graphOutput(item);
        if (found) outputs[name] = found;
      }
    }
    if (Object.keys(outputs).length > 0) this.graphOutputs[graphId] = outputs;
  }

  recordMapOptions(handle: DynamicHandle<unknown>, options: DimensionOptions): void {
    // toleratedFailures gets its own messages (zod's for a union only say "invalid input").
    const toleranceProblems = options.toleratedFailures !== undefined ? toleratedFailuresProblems(options.toleratedFailures) : [];
    for (const problem of toleranceProblems) this.issue('map-options', handle.node, problem.message, problem.fix);
    const { toleratedFailures: _checkedAbove, ...rest } = options;
    const parsed = DimensionOptionsSchema.safeParse(toleranceProblems.length > 0 ? rest : options);
    if (!parsed.success) {
      this.issue(
        'map-options',
        handle.node,
        `invalid .map() options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        "use { mode: 'child' | 'activity' | 'batch', batchSize?: positive integer, maxConcurrency?: positive integer, shardSize?: positive integer, toleratedFailures?: { count } | { ratio } }",
      );
      return;
    }
    if (parsed.data.batchSize !== undefined && parsed.data.mode !== 'batch') {
      this.issue('map-options', handle.node, "batchSize is only meaningful with mode: 'batch'", "add mode: 'batch' or remove batchSize");
    }
    for (const problem of mapOptionBoundProblems(parsed.data)) this.issue('map-options', handle.node, problem.message, problem.fix);
    this.mapOptions.push({ ref: { node: handle.node, output: handle.output }, raw: handle.raw, options: parsed.data });
  }

  /** Turns what a map callable returned into dynamic handles (Dagster composition.py `map`). */
  wrapMapResult(result: unknown, mapped: DynamicHandle<unknown>): unknown {
    if (result === undefined || result === null) return undefined;
    if (result instanceof DynamicHandle) return result;
    if (result instanceof Handle) {
      if (result.kind === 'collect') {
        this.issue(
          'C13',
          result.node,
          `the callable passed to .map() on "${mapped.node}" returned a collected list, which cannot be mapped again`,
          'return the handle of an op that consumes the item, or pass the collected list to an op',
        );
        return undefined;
      }
      return new DynamicHandle(result, result.kind === 'item', this);
    }
    if (Array.isArray(result) && result.every((r) => r instanceof Handle || r instanceof DynamicHandle)) {
      return result.map((r: unknown) => this.wrapMapResult(r, mapped));
    }
    this.issue(
      'C13',
      mapped.node,
      `could not handle what the callable passed to .map() on "${mapped.node}:${mapped.output}" returned (${describeValue(result)})`,
      'return the handle(s) of the op(s) invoked inside the callable, or nothing',
    );
    return undefined;
  }

  /** The plan source for argument `index` of an invocation. */
  sourceFor(arg: unknown, node: string, input: string): InputSource {
    if (arg === undefined) return { kind: 'config' };
    if (arg instanceof Handle) return { kind: arg.kind, node: arg.node, output: arg.output };
    if (arg instanceof DynamicHandle) {
      this.issue(
        'C1',
        node,
        `input "${input}" received the dynamic output "${arg.output}" from op "${arg.node}" directly`,
        'dynamic outputs must be unpacked: use .map(fn) to run per item or .collect() to pass the list',
      );
      return { kind: 'config' };
    }
    if (Array.isArray(arg)) return { kind: 'fanin', sources: this.fanInSources(arg, node, input) };
    this.issue(
      'not-a-handle',
      node,
      `input "${input}" received ${describeValue(arg)}, not the output of an op`,
      'pass handles returned by op invocations; constant values belong in op config or run config inputs',
    );
    return { kind: 'config' };
  }

  private fanInSources(items: unknown[], node: string, input: string): OutputRef[] {
    const sources: OutputRef[] = [];
    items.forEach((item, index) => {
      if (item instanceof Handle && item.kind === 'output') {
        sources.push({ node: item.node, output: item.output });
      } else if (item instanceof DynamicHandle || (item instanceof Handle && item.kind === 'item')) {
        const ref = item as { node: string; output: string };
        this.issue(
          'C5',
          node,
          `input "${input}" is a fan-in list whose item ${index} depends on the dynamic output "${ref.node}:${ref.output}"; items in a fan-in list cannot be downstream of dynamic outputs`,
          'collect the dynamic output with .collect() and pass that list directly instead of inside a list',
        );
      } else {
        this.issue(
          'C6',
          node,
          `input "${input}" received a list containing an invalid item at index ${index} (${item instanceof Handle ? 'a collected list' : describeValue(item)}); lists can only contain outputs of previous op invocations`,
          'pass a collected list directly as the input, not wrapped in another list',
        );
      }
    });
    return sources;
  }
}

/** Runs a job body with a fresh tracer and returns what it recorded. */
export function trace(jobName: string, body: () => unknown): Tracer {
  const tracer = new Tracer(jobName);
  withTracer(tracer, body);
  return tracer;
}

/** Records one op invocation and returns handles to its outputs. */
export function invokeNode(spec: OpSpec, alias: string | undefined, args: readonly unknown[]): unknown {
  const tracer = currentTracer(`op "${spec.name}"`);
  const id = tracer.allocateNodeId(alias ?? spec.name, alias !== undefined);
  if (args.length > spec.inputs.length) {
    tracer.issue(
      'too-many-arguments',
      id,
      `op "${spec.name}" takes ${spec.inputs.length} input(s) (${spec.inputs.map((i) => i.name).join(', ') || 'none'}) but was called with ${args.length}`,
      'remove the extra arguments or declare more inputs on the op',
    );
  }
  const inputs = spec.inputs.map((decl, i) => ({ name: decl.name, source: tracer.sourceFor(args[i], id, decl.name) }));
  tracer.nodes.push({ id, spec, inputs, frames: tracer.currentFrames() });
  return outputHandles(spec, id, tracer);
}

function outputHandles(spec: OpSpec, node: string, tracer: Tracer): unknown {
  const handles = spec.outputs.map((o) =>
    o.dynamic ? new DynamicHandle({ node, output: o.name }, true, tracer) : new Handle('output', { node, output: o.name }),
  );
  if (!spec.multiOutput) return handles[0];
  const tuple: unknown[] = [...handles];
  spec.outputs.forEach((o, i) => Object.defineProperty(tuple, o.name, { value: handles[i], enumerable: false }));
  return Object.freeze(tuple);
}

/** The op output a handle returned from a graph body stands for. */
function graphOutput(value: unknown): GraphOutput | undefined {
  if (value instanceof DynamicHandle) return { kind: 'output', node: value.node, output: value.output };
  if (value instanceof Handle) return { kind: value.kind === 'collect' ? 'collect' : 'output', node: value.node, output: value.output };
  return undefined;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `a ${typeof value} (${JSON.stringify(value)?.slice(0, 40) ?? typeof value})`;
}

/** `.map()` options past what one workflow's budget allows (DESIGN §4 Limits). */
function mapOptionBoundProblems(options: DimensionOptions): { message: string; fix: string }[] {
  const problems: { message: string; fix: string }[] = [];
  const { maxConcurrency, batchSize, shardSize } = options;
  const mode = options.mode ?? 'child';
  if (maxConcurrency !== undefined && maxConcurrency > MAP_OPTION_BOUNDS.maxConcurrency) {
    problems.push({
      message: `maxConcurrency ${maxConcurrency} is over ${MAP_OPTION_BOUNDS.maxConcurrency}, the most pending activities or child workflows one workflow keeps at once (Temporal refuses more than 2,000, and every map of a workflow shares that budget)`,
      fix: `use maxConcurrency ≤ ${MAP_OPTION_BOUNDS.maxConcurrency}; for more parallel work, raise batchSize with mode: 'batch' (each batch runs up to ${BUDGET.inBatchConcurrency} keys at once)`,
    });
  }
  if (batchSize !== undefined && batchSize > MAP_OPTION_BOUNDS.batchSize) {
    problems.push({
      message: `batchSize ${batchSize} is over ${MAP_OPTION_BOUNDS.batchSize}: a batch's keys share one activity's input and result`,
      fix: `use batchSize ≤ ${MAP_OPTION_BOUNDS.batchSize}`,
    });
  }
  const shardLimit = maxShardSize(mode, batchSize);
  if (shardSize !== undefined && shardSize > shardLimit) {
    problems.push({
      message: `shardSize ${shardSize} is over ${shardLimit}, the most keys one ${mode}-mode shard workflow can run within Temporal's history budget of 10,240 events`,
      fix: `use shardSize ≤ ${shardLimit}, or leave it out: opgraph picks the largest that fits`,
    });
  }
  return problems;
}
