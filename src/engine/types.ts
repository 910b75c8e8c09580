/** The engine's contract with its hosts: a Temporal workflow (src/workflows) or a batch activity (src/activities). */
import type { JobPlan, OutputRef, PlanNode } from '../dsl/plan.ts';
import type {
  Binding,
  OpTaskInput,
  OpTaskResult,
  ReusedChunk,
  ScopeResult,
  ShardResult,
  ShardWorkflowInput,
  SliceInput,
  SliceResult,
  StepError,
  StepRecord,
  StoredRef,
} from '../dsl/protocol.ts';
import type { ResolvedRunConfig } from '../dsl/runConfig.ts';
import type { WorkflowBudget } from './budget.ts';
import type { MapControls } from './control.ts';
import type { WaitingFailures } from './redrive.ts';

/** One mapping key's scope to run elsewhere: a child workflow, or one item of a batch activity. */
export interface KeyedScope {
  readonly key: string;
  readonly bindings: Record<string, Binding>;
  readonly prior: Record<string, StepRecord>;
  /** Stored earlier-stage results holding more of this key's records (deeper ones); loaded when the key starts. */
  readonly priorParts?: StoredRef[];
  /** A re-execution's records for this key and below it (the chunks that can hold them), loaded when the key starts. */
  readonly reused?: ReusedChunk[];
  /** A redriven key: its earlier run's stored records (what did not fail is taken over as it starts). */
  readonly reusedParts?: StoredRef[];
  /** A redriven key: how many times it has been redriven (names its new child or batch activity). */
  readonly drive?: number;
}

export interface DimensionRequest {
  /** The whole dimension's nodes (for lookups); only `stage`'s nodes run. */
  readonly plan: JobPlan;
  readonly dim: readonly string[];
  /** The fan-out op's output this dimension maps over. */
  readonly source: OutputRef;
  /** Mapping keys of the enclosing scopes. */
  readonly outerKeys: readonly string[];
  readonly stage: number;
}

export interface ShardRequest {
  readonly start: number;
  readonly end: number;
  readonly items: ShardWorkflowInput['items'];
  readonly bindings: Record<string, Binding>;
  readonly priorParts: StoredRef[];
  readonly priorNodes: string[];
  /** Position among its siblings: names the shard's workflow. */
  readonly index: number;
  /** Shards of the dimension in flight at once, sharing its window (a resized window is split the same way). */
  readonly sharing: number;
  /** A redriven shard: its earlier run's stored records, and how many times it has been redriven. */
  readonly reusedParts?: StoredRef[];
  readonly drive?: number;
}

export interface ScopeContext {
  readonly runId: string;
  readonly plan: JobPlan;
  readonly runConfig: ResolvedRunConfig;
  /** Dimension path of this scope; empty for the job's top level. */
  readonly dim: readonly string[];
  /** Mapping key per entry of `dim`. */
  readonly keys: readonly string[];
  readonly bindings: Readonly<Record<string, Binding>>;
  /** Which stage of this scope's dimension runs here (see PlanNode.stages); 0 for the top level. */
  readonly stage: number;
  /** This key's step records from earlier stages. */
  readonly prior: Readonly<Record<string, StepRecord>>;
  /** Stored earlier-stage results with more of this key's records (see KeyedScope.priorParts). */
  readonly priorParts?: readonly StoredRef[];
  /**
   * A re-execution's records: at the top level every chunk (its own are loaded, the others handed to
   * the keys and shards below); for a key, the chunks that can hold its records.
   */
  readonly reused?: readonly ReusedChunk[];
  /** A redriven key's earlier records (see KeyedScope.reusedParts). */
  readonly reusedParts?: readonly StoredRef[];
}

/**
 * What the interpreter needs from where it runs. In a workflow: activities, child workflows,
 * durable timers, the seeded PRNG. Inside a batch activity: direct op calls and plain timers.
 * Hosts issue commands; the engine decides when (through `budget`) and how many.
 */
export interface ScopeEngine {
  /** This workflow's budget of pending commands and history events. */
  readonly budget: WorkflowBudget;
  /**
   * Live control of this workflow's maps (pause / resume / resize, src/engine/control.ts); absent
   * where nothing is controllable (inside a batch activity: windows there stay fixed).
   */
  readonly controls?: MapControls;
  /**
   * Where failed units wait for a redrive (a job with `onStepFailure: 'wait'`, in its job workflow
   * only); absent elsewhere: failures end their unit as usual.
   */
  readonly failures?: WaitingFailures;
  /** Resolves once `ready()` holds, re-checked whenever the host's state changes (Temporal's `condition()`). */
  waitUntil(ready: () => boolean): Promise<void>;
  /** One attempt of one step; throws the step's failure. */
  executeAttempt(node: PlanNode, task: OpTaskInput): Promise<OpTaskResult>;
  sleep(ms: number): Promise<void>;
  random(): number;
  /** Runs one key's scope as a child workflow (mode 'child'). */
  runChild(request: DimensionRequest, item: KeyedScope): Promise<ScopeResult>;
  /** Runs many keys' scopes in one activity (mode 'batch'); results in item order. */
  runBatch(request: DimensionRequest, items: readonly KeyedScope[], batchIndex: number): Promise<ScopeResult[]>;
  /** Runs one slice of a large dimension's keys as a shard workflow. */
  runShard(request: DimensionRequest, shard: ShardRequest): Promise<ShardResult>;
  /** Puts a JSON value in the store (workflows cannot write files themselves). */
  store(value: unknown): Promise<StoredRef>;
  /** Loads a slice of a stored fan-out list and earlier-stage records. */
  slice(input: SliceInput): Promise<SliceResult>;
  /** Temporal's `patched(id)` in a workflow (a versioning gate); always true elsewhere. */
  patched(id: string): boolean;
  /** Whether `err` means the run is being cancelled (then it propagates untouched). */
  isCancellation(err: unknown): boolean;
  /** The failure a step reports for `err`: the op's own error where there is one. */
  errorOf(err: unknown): StepError;
  /** An error that ends the workflow at once, without retries (a broken plan). */
  fatal(message: string): Error;
}
