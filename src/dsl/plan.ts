import { z } from 'zod';

/**
 * The plan (IR): plain JSON produced by tracing a job. It travels as workflow input, so a run
 * replays with the plan it started with even after the job's code changes.
 */
export const PLAN_VERSION = 1;

const OutputRef = z.object({ node: z.string(), output: z.string() });
export type OutputRef = z.infer<typeof OutputRef>;

/** Where an op input gets its value. */
export const InputSource = z.discriminatedUnion('kind', [
  /** A regular output of a node in the same or an enclosing dimension. */
  z.object({ kind: z.literal('output'), node: z.string(), output: z.string() }),
  /** One item of a dynamic output: the consumer is mapped over that output's keys. */
  z.object({ kind: z.literal('item'), node: z.string(), output: z.string() }),
  /** All items (a dynamic output) or all clones (a mapped node), as a list in yield order. */
  z.object({ kind: z.literal('collect'), node: z.string(), output: z.string() }),
  /** A static fan-in list: `total([a, b, c])`. */
  z.object({ kind: z.literal('fanin'), sources: z.array(OutputRef) }),
  /** Not wired in the job: supplied by run config `ops.<node>.inputs.<name>`. */
  z.object({ kind: z.literal('config') }),
]);
export type InputSource = z.infer<typeof InputSource>;

export const PlanRetryPolicy = z.object({
  maxRetries: z.number().int().min(0),
  delay: z.number().min(0),
  backoff: z.enum(['linear', 'exponential']).optional(),
  jitter: z.enum(['full', 'plus_minus']).optional(),
});
export type PlanRetryPolicy = z.infer<typeof PlanRetryPolicy>;

export const PlanTimeouts = z.object({
  /** Longest one attempt may run. */
  startToCloseMs: z.number().int().positive(),
  /** A worker that stops heartbeating this long is presumed dead; the attempt is retried. */
  heartbeatMs: z.number().int().positive(),
});
export type PlanTimeouts = z.infer<typeof PlanTimeouts>;

export const PlanNode = z.object({
  /** Dagster node path: `echo`, `echo_2`, `outer.inner.echo`. */
  id: z.string(),
  /** Op name = Temporal activity type. */
  op: z.string(),
  inputs: z.array(z.object({ name: z.string(), source: InputSource })),
  outputs: z.array(z.object({ name: z.string(), dynamic: z.boolean(), required: z.boolean() })),
  /**
   * The dynamic outputs this node is mapped over, outermost first, each as `node:output`.
   * Empty for a static node; one entry for `compute_piece`; two for a nested fan-out.
   */
  dim: z.array(z.string()),
  /**
   * Stage of this node within each entry of `dim` (same length). A dimension whose nodes need a
   * value computed from a collect of that same dimension splits at that barrier into stages; each
   * stage runs as its own wave of per-key children.
   */
  stages: z.array(z.number().int().min(0)),
  retryPolicy: PlanRetryPolicy.nullable(),
  timeouts: PlanTimeouts,
  tags: z.record(z.string(), z.string()),
});
export type PlanNode = z.infer<typeof PlanNode>;

/** Exactly one of `count` (failed keys, an integer ≥ 0) and `ratio` (of the map's keys, 0 to 1). */
export const ToleratedFailures = z.union([
  z.object({ count: z.number().int().min(0), ratio: z.undefined().optional() }),
  z.object({ ratio: z.number().min(0).max(1), count: z.undefined().optional() }),
]);

/** How the keys of one dynamic dimension run (set with `.map(fn, options)`). */
export const DimensionOptions = z.object({
  /**
   * `child` (default): one child workflow per key. `activity`: each key's steps run as activities
   * of the parent workflow. `batch`: `batchSize` keys per activity, run in parallel inside it.
   */
  mode: z.enum(['child', 'activity', 'batch']).optional(),
  batchSize: z.number().int().positive().optional(),
  /**
   * Most keys (children / key scopes / batches) of this map in flight at once (default 500, at most
   * 1,000): a share of its workflow's budget, which all maps and steps of that workflow draw from.
   */
  maxConcurrency: z.number().int().positive().optional(),
  /**
   * Most keys one shard workflow runs, when the map shards (it shards when its keys' projected
   * history does not fit what its workflow has left). Default and upper bound: what one history
   * holds in that mode (src/dsl/limits.ts maxShardSize).
   */
  shardSize: z.number().int().positive().optional(),
  /**
   * How many of the map's keys may fail without failing the run: `{ count: n }` keys, or
   * `{ ratio: r }` of them (src/dsl/tolerance.ts). Its collects get the other keys' values; the
   * failed keys are listed on the run's result. Checked with clear messages when `job()` runs.
   */
  toleratedFailures: ToleratedFailures.optional(),
});
export type DimensionOptions = z.infer<typeof DimensionOptions>;
export type FanOutMode = NonNullable<DimensionOptions['mode']>;

/**
 * What one output of a graph node stands for: an op output (`output`), or the list a `.collect()`
 * gathers (`collect`) when the graph body returned a collected handle.
 */
export const GraphOutput = z.object({ kind: z.enum(['output', 'collect']), node: z.string(), output: z.string() });
export type GraphOutput = z.infer<typeof GraphOutput>;

export const JobPlan = z.object({
  planVersion: z.literal(PLAN_VERSION),
  job: z.string(),
  description: z.string().optional(),
  /** Topologically ordered. */
  nodes: z.array(PlanNode),
  /** Per dimension id, when `.map(fn, options)` set any. */
  dimensions: z.record(z.string(), DimensionOptions).optional(),
  /**
   * Per graph node id (`sizes`, `outer.inner`), its outputs by name, each resolved to the op output
   * it stands for (the interpreter ignores it; results read it to answer `outputFor(graph)`).
   */
  graphOutputs: z.record(z.string(), z.record(z.string(), GraphOutput)).optional(),
  /**
   * The job's `onStepFailure: 'wait'` (absent: 'fail', Dagster's behaviour): a step that exhausts its
   * retries waits for a redrive or give-up, optionally for at most `timeoutMs` (src/engine/redrive.ts).
   */
  onStepFailure: z.object({ mode: z.literal('wait'), timeoutMs: z.number().int().positive().optional() }).optional(),
});
export type JobPlan = z.infer<typeof JobPlan>;

export { dimensionId, parseDimensionId } from './keys.ts';
