import { z } from 'zod';
import { JobPlan } from './plan.ts';
import { ResolvedRunConfig } from './runConfig.ts';
import { withOutputKind, withShardItemsKind } from './wire.ts';

/** What crosses Temporal between the interpreter (workflows), the op runner (activities) and clients. */

export { BATCH_ACTIVITY, FailureType, NON_RETRYABLE_TYPES, RESOLVE_PLAN_ACTIVITY, SLICE_ACTIVITY, STORE_ACTIVITY } from './constants.ts';

export const OpTaskInput = z.object({
  runId: z.string(),
  job: z.string(),
  node: z.string(),
  op: z.string(),
  stepKey: z.string(),
  mappingKeys: z.array(z.string()),
  inputs: z.record(z.string(), z.unknown()),
  config: z.unknown().optional(),
  /** 1-based user-retry attempt for this step key. */
  attempt: z.number().int().positive(),
  /** The node's interface in the run's plan (opSignature); absent in tasks scheduled before it was sent. */
  signature: z.string().optional(),
});
export type OpTaskInput = z.infer<typeof OpTaskInput>;

/** A reference to a value in the store (DESIGN §6): plain JSON, small. */
export const StoredRef = z.object({
  $opgraphRef: z.literal(1),
  store: z.string(),
  key: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string(),
});
export type StoredRef = z.infer<typeof StoredRef>;

/** A fan-out's `[mapping key, value]` list, in yield order. */
const Items = z.array(z.tuple([z.string(), z.unknown()]));

/**
 * One produced output, tagged by `kind`. Records without `kind` (histories and stored parts
 * written before the tag) are read by the field only their variant has, and parse tagged; workflow
 * code, which reads them without zod, uses src/dsl/wire.ts for the same rule.
 */
export const TaskOutput = z.preprocess(
  withOutputKind,
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('value'), name: z.string(), value: z.unknown() }),
    z.object({ kind: z.literal('items'), name: z.string(), items: Items }),
    /** A fan-out too large to carry inline: its `[key, value][]` list is in the store. */
    z.object({ kind: z.literal('itemsRef'), name: z.string(), itemsRef: StoredRef, count: z.number().int().nonnegative() }),
  ]),
);
export type TaskOutput = z.infer<typeof TaskOutput>;

export const OpTaskResult = z.object({ outputs: z.array(TaskOutput) });
export type OpTaskResult = z.infer<typeof OpTaskResult>;

export const StepStatus = z.enum(['SUCCESS', 'FAILURE', 'SKIPPED', 'ABANDONED']);
export type StepStatus = z.infer<typeof StepStatus>;

/**
 * A step's failure: `type` the stable failure type (`OpUserError`, `OpValidationError`, `Timeout`…),
 * and for op code that threw, `errorClass` the class of what it threw (`RangeError`, a user-defined
 * class). Optional, so records written before it still parse.
 */
export const StepError = z.object({ type: z.string(), message: z.string(), errorClass: z.string().optional() });
export type StepError = z.infer<typeof StepError>;

export const StepRecord = z.object({
  node: z.string(),
  mappingKeys: z.array(z.string()),
  status: StepStatus,
  /** Produced outputs: plain value, or dynamic items in yield order. Absent outputs were not produced. */
  outputs: z.array(TaskOutput).optional(),
  error: StepError.optional(),
  /** User-retry attempts used (1 = no retry). */
  attempts: z.number().int().optional(),
  /** Taken over from an earlier run by a re-execution, not run again (see ReusedChunk). */
  reused: z.boolean().optional(),
  /** A FAILURE within its map's `toleratedFailures`: it does not fail the run (set by the scope that decided so). */
  tolerated: z.literal(true).optional(),
});
export type StepRecord = z.infer<typeof StepRecord>;

/**
 * Part of the step records a re-execution takes over from its parent run, stored as a ScopeResult.
 * `dim` is the top-level dimension its records belong to ('' for the job's own steps); their top-level
 * mapping keys lie within `first`..`last` (string order), so a key loads only the chunks that can hold it.
 */
export const ReusedChunk = z.object({ dim: z.string(), first: z.string(), last: z.string(), ref: StoredRef });
export type ReusedChunk = z.infer<typeof ReusedChunk>;

/** A run that re-executes an earlier one: the parent, and the records it takes over. */
export const Reexecution = z.object({
  parentWorkflowId: z.string(),
  parentRunId: z.string(),
  chunks: z.array(ReusedChunk),
});
export type Reexecution = z.infer<typeof Reexecution>;

/**
 * Every step of a scope and of the scopes below it, keyed by step key. Where that would be too
 * large for Temporal, deeper records are stored and listed in `parts` (each a stored ScopeResult).
 */
export const StepFailureRef = z.object({ stepKey: z.string(), error: StepError, tolerated: z.literal(true).optional() });
export const ScopeResult = z.object({
  steps: z.record(z.string(), StepRecord),
  parts: z.array(StoredRef).optional(),
  /** Failed steps whose records are in `parts` (so a parent notices them without loading parts). */
  failures: z.array(StepFailureRef).optional(),
});
export type ScopeResult = z.infer<typeof ScopeResult>;

/** A bound value passed into a mapped scope from outside it. */
export const Binding = z.discriminatedUnion('state', [
  z.object({ state: z.literal('value'), value: z.unknown() }),
  z.object({ state: z.literal('missing') }),
  z.object({ state: z.literal('abandoned'), reason: z.string() }),
]);
export type Binding = z.infer<typeof Binding>;

/**
 * Live control of maps (pause / resume / resize) a child or shard starts under, per dimension id:
 * present only once a map of the run was controlled (src/engine/control.ts).
 */
export const MapControl = z.object({ paused: z.boolean(), maxConcurrency: z.number().int().positive().optional() });
export const MapControlState = z.record(z.string(), MapControl);

/** Set when the server has opgraph's search attributes registered (see SEARCH_ATTRIBUTES). */
const searchAttributesFlag = z.boolean().optional();

/** What every job, scope and shard workflow input carries about its run. */
const runFields = {
  runId: z.string(),
  searchAttributes: searchAttributesFlag,
  plan: JobPlan,
  runConfig: ResolvedRunConfig,
};

export const JobWorkflowInput = z.object({
  kind: z.literal('job'),
  ...runFields,
  taskQueue: z.string().optional(),
  reexecution: Reexecution.optional(),
});
export type JobWorkflowInput = z.infer<typeof JobWorkflowInput>;

export const ScopeWorkflowInput = z.object({
  kind: z.literal('scope'),
  /** `plan` holds only the nodes of this scope and the scopes below it. */
  ...runFields,
  /** The dimension path of this scope, outermost first. */
  dim: z.array(z.string()),
  /** The mapping key for each entry of `dim`. */
  keys: z.array(z.string()),
  /** Values from outside the scope, by `node:output`; the scope's own item is bound under its dimension id. */
  bindings: z.record(z.string(), Binding),
  /** Which stage of the dimension this child runs (0 unless the dimension splits at a barrier). */
  stage: z.number().int().min(0).default(0),
  /** Records of this key's steps that ran in earlier stages, by step key. */
  prior: z.record(z.string(), StepRecord).default({}),
  /** Stored earlier-stage results holding more of this key's records (deeper ones); loaded as the scope starts. */
  priorParts: z.array(StoredRef).optional(),
  /** A re-execution's records for this key (and below it), loaded as the scope starts. */
  reused: z.array(ReusedChunk).optional(),
  /** A redriven key: its earlier run's stored records; the ones that did not fail are taken over as it starts. */
  reusedParts: z.array(StoredRef).optional(),
  /** Controls of the maps below this scope, when any was paused or resized before it started. */
  controls: MapControlState.optional(),
});
export type ScopeWorkflowInput = z.infer<typeof ScopeWorkflowInput>;

/** A shard: one slice `[start, end)` of a large fan-out's keys, run as its own workflow. */
export const ShardWorkflowInput = z.object({
  kind: z.literal('shard'),
  ...runFields,
  dim: z.array(z.string()),
  outerKeys: z.array(z.string()),
  source: z.object({ node: z.string(), output: z.string() }),
  stage: z.number().int().min(0),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  /** The slice itself when the fan-out is inline, else the stored list to slice (untagged in older histories). */
  items: z.preprocess(
    withShardItemsKind,
    z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('inline'), inline: Items }),
      z.object({ kind: z.literal('ref'), ref: StoredRef }),
    ]),
  ),
  /** Values from outside the dimension, shared by every key. */
  bindings: z.record(z.string(), Binding),
  /** Stored results of the same range's earlier stage (when the dimension splits at a barrier). */
  priorParts: z.array(StoredRef),
  /** Dimension-level nodes of earlier stages, whose records the keys need. */
  priorNodes: z.array(z.string()),
  /** A redriven shard: its earlier run's stored records; the ones that did not fail are taken over. */
  reusedParts: z.array(StoredRef).optional(),
  /** Controls of this shard's map (its share of a resized window) and the maps below it, when any was controlled. */
  controls: MapControlState.optional(),
});
export type ShardWorkflowInput = z.infer<typeof ShardWorkflowInput>;

export const WorkflowInput = z.discriminatedUnion('kind', [JobWorkflowInput, ScopeWorkflowInput, ShardWorkflowInput]);
export type WorkflowInput = z.infer<typeof WorkflowInput>;

export const BatchInput = z.object({
  runId: z.string(),
  plan: JobPlan,
  runConfig: ResolvedRunConfig,
  dim: z.array(z.string()),
  outerKeys: z.array(z.string()),
  source: z.object({ node: z.string(), output: z.string() }),
  stage: z.number().int().min(0),
  /** Bindings every key of the batch shares, carried once (inputs recorded before this repeated them per item). */
  shared: z.record(z.string(), Binding).optional(),
  /** Per key: its own bindings (its item, on top of `shared`) and earlier-stage records. */
  items: z.array(
    z.object({
      key: z.string(),
      bindings: z.record(z.string(), Binding),
      prior: z.record(z.string(), StepRecord),
      priorParts: z.array(StoredRef).optional(),
      reused: z.array(ReusedChunk).optional(),
      reusedParts: z.array(StoredRef).optional(),
    }),
  ),
});
export type BatchInput = z.infer<typeof BatchInput>;

export const BatchResult = z.object({ results: z.array(ScopeResult) });
export type BatchResult = z.infer<typeof BatchResult>;

export const SliceInput = z.object({
  itemsRef: StoredRef.optional(),
  /** The slice's keys when its items travel inline: only their earlier-stage records are returned. */
  keys: z.array(z.string()).optional(),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  /** Values larger than this many bytes come back as references. */
  inlineLimit: z.number().int().positive(),
  /** Earlier-stage results of this range, and which of their records (dimension-level nodes) are wanted. */
  priorParts: z.array(StoredRef).default([]),
  priorNodes: z.array(z.string()).default([]),
  /** Number of mapping keys of the wanted records. */
  depth: z.number().int().min(0),
  /** A redrive's earlier records: of these, only the ones that did not fail come back, marked `reused`. */
  reusedParts: z.array(StoredRef).optional(),
});
export type SliceInput = z.infer<typeof SliceInput>;
export const SliceResult = z.object({
  items: Items,
  prior: z.record(z.string(), StepRecord),
});
export type SliceResult = z.infer<typeof SliceResult>;

/** Per node of a shard: how its steps ended and how many produced each output. */
export const NodeSummary = z.object({
  statuses: z.record(z.string(), z.number().int()),
  produced: z.record(z.string(), z.number().int()),
});
export type NodeSummary = z.infer<typeof NodeSummary>;

/** What a shard workflow returns: its records are stored; the parent decides collects from the summary. */
export const ShardResult = z.object({
  parts: z.array(StoredRef),
  keys: z.number().int().nonnegative(),
  nodes: z.record(z.string(), NodeSummary),
  failures: z.array(StepFailureRef),
  /**
   * Keys of the slice that failed (a step FAILURE not tolerated deeper) and had not failed in an
   * earlier stage; set only for a map with `toleratedFailures`.
   */
  failedKeys: z.number().int().nonnegative().optional(),
});
export type ShardResult = z.infer<typeof ShardResult>;

/** A collect over a sharded dimension, resolved by the op runner from the shards' stored records. */
export const LazyCollect = z.object({
  $opgraphCollect: z.object({
    parts: z.array(StoredRef),
    node: z.string(),
    output: z.string(),
    depth: z.number().int(),
    /** A map within its `toleratedFailures`: keys with a FAILURE (not marked tolerated) in these parts are left out. */
    failedIn: z.array(StoredRef).optional(),
  }),
});
export type LazyCollect = z.infer<typeof LazyCollect>;
/** The raw items of a stored fan-out, resolved by the op runner. */
export const LazyItems = z.object({ $opgraphItems: StoredRef });
export type LazyItems = z.infer<typeof LazyItems>;

/** A list too large for one activity input, stored in chunks by the interpreter; the op runner concatenates them. */
export const LazyConcat = z.object({ $opgraphConcat: z.array(StoredRef) });
export type LazyConcat = z.infer<typeof LazyConcat>;
