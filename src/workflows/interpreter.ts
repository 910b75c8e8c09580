import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, isCancellation, TimeoutFailure } from '@temporalio/workflow';
import { stepKey } from '../dsl/keys.ts';
import { dimensionId, parseDimensionId } from '../dsl/keys.ts';
import type { DimensionOptions, InputSource, JobPlan, OutputRef, PlanNode } from '../dsl/plan.ts';
import { FailureType } from '../dsl/constants.ts';
import type {
  Binding,
  OpTaskInput,
  OpTaskResult,
  ScopeResult,
  ShardResult,
  ShardWorkflowInput,
  SliceInput,
  SliceResult,
  StepError,
  StepRecord,
  StoredRef,
} from '../dsl/protocol.ts';
import { isScopeResult } from './guards.ts';
import type { ResolvedRunConfig } from '../dsl/runConfig.ts';
import { NO_PROGRESS, type ProgressSink } from './progress.ts';
import { retryDelayMs } from './retry.ts';
import { forEachWindowed } from './window.ts';

/** Most children (or activities) one workflow keeps pending at once (DESIGN §4 Limits). */
export const DEFAULT_MAX_CONCURRENCY = 500;
export const DEFAULT_BATCH_SIZE = 100;
/** Shards of one dimension running at once; they split the dimension's window between them. */
const SHARDS_IN_FLIGHT = 2;

/** One mapping key's scope to run elsewhere: a child workflow, or one item of a batch activity. */
export interface KeyedScope {
  readonly key: string;
  readonly bindings: Record<string, Binding>;
  readonly prior: Record<string, StepRecord>;
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

/**
 * What the interpreter needs from where it runs. In a workflow: activities, child workflows,
 * durable timers, the seeded PRNG. Inside a batch activity: direct op calls and plain timers.
 */
export interface ScopeEngine {
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
}

export interface ShardRequest {
  readonly start: number;
  readonly end: number;
  readonly items: ShardWorkflowInput['items'];
  readonly bindings: Record<string, Binding>;
  readonly priorParts: StoredRef[];
  readonly priorNodes: string[];
  readonly index: number;
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
}

type DimensionOutcome =
  | { state: 'abandoned'; reason: string }
  | { state: 'skipped' }
  | { state: 'done'; keys: string[]; shards?: ShardResult[] };

/** A dimension's run: one settled outcome per stage, each known as soon as that stage's wave ends. */
interface DimensionRun {
  readonly stages: Promise<DimensionOutcome>[];
  readonly all: Promise<void>;
}

const missing: Binding = { state: 'missing' };

/**
 * Interprets one scope of a plan: the static top level of a job, or one mapping key of a dynamic
 * dimension. Nodes run as soon as their inputs are known (ready nodes run concurrently); each
 * dimension directly below this scope runs as one child workflow per mapping key.
 * Skip / abandon propagation follows Dagster's ActiveExecution (reference/dagster-semantics.md §6).
 */
export class ScopeInterpreter {
  private readonly nodes = new Map<string, PlanNode>();
  /** The plan's nodes that belong to this scope's stage (the plan also holds other stages, for lookups). */
  private readonly active: PlanNode[];
  private readonly steps: Record<string, StepRecord> = {};
  private readonly nodeRuns = new Map<string, Promise<StepRecord>>();
  private readonly dimensionRuns = new Map<string, DimensionRun>();
  /** Child results per dimension: stage by stage, keys in yield order. */
  private readonly childResults = new Map<string, ScopeResult[][]>();
  /** Shard results per sharded dimension: stage by stage, shards in key order. */
  private readonly shardRuns = new Map<string, ShardResult[][]>();

  constructor(
    private readonly scope: ScopeContext,
    private readonly engine: ScopeEngine,
    private readonly progress: ProgressSink = NO_PROGRESS,
  ) {
    for (const node of scope.plan.nodes) this.nodes.set(node.id, node);
    const level = scope.dim.length - 1;
    this.active = scope.plan.nodes.filter((n) => level < 0 || (n.stages[level] ?? 0) === scope.stage);
  }

  async run(): Promise<ScopeResult> {
    const here = this.active.filter((n) => this.isHere(n));
    const below = new Set<string>();
    for (const node of this.active) {
      const next = node.dim[this.scope.dim.length];
      if (next !== undefined && startsWith(node.dim, this.scope.dim)) below.add(next);
    }
    await Promise.all([...here.map((n) => this.runNode(n.id)), ...[...below].map((d) => this.runDimension(d).all)]);
    // Report steps in plan order, clones in yield order, whatever order they finished in.
    const ordered: Record<string, StepRecord> = {};
    for (const node of here) {
      const key = stepKey(node.id, this.scope.keys);
      const record = this.steps[key];
      if (record) ordered[key] = record;
    }
    const parts: StoredRef[] = [];
    const failures: NonNullable<ScopeResult['failures']> = [];
    for (const dim of below) {
      for (const stage of this.childResults.get(dim) ?? []) {
        for (const child of stage) {
          Object.assign(ordered, child.steps);
          parts.push(...(child.parts ?? []));
          failures.push(...(child.failures ?? []));
        }
      }
      for (const stage of this.shardRuns.get(dim) ?? []) {
        for (const shard of stage) {
          parts.push(...shard.parts);
          failures.push(...shard.failures);
        }
      }
    }
    return { steps: ordered, ...(parts.length > 0 ? { parts } : {}), ...(failures.length > 0 ? { failures } : {}) };
  }

  private isHere(node: PlanNode): boolean {
    const level = this.scope.dim.length - 1;
    return sameDim(node.dim, this.scope.dim) && (level < 0 || (node.stages[level] ?? 0) === this.scope.stage);
  }

  private node(id: string): PlanNode {
    const node = this.nodes.get(id);
    if (!node) throw ApplicationFailure.nonRetryable(`plan has no node "${id}"`, FailureType.Definition);
    return node;
  }

  private runNode(id: string): Promise<StepRecord> {
    const prior = this.scope.prior[stepKey(id, this.scope.keys)];
    if (prior) return Promise.resolve(prior);
    let run = this.nodeRuns.get(id);
    if (!run) {
      run = this.evaluateNode(this.node(id));
      this.nodeRuns.set(id, run);
    }
    return run;
  }

  private runDimension(dim: string): DimensionRun {
    let run = this.dimensionRuns.get(dim);
    if (!run) {
      run = this.startDimension(dim);
      this.dimensionRuns.set(dim, run);
    }
    return run;
  }

  /** Runs a dimension stage by stage; each stage's outcome settles when its wave of children ends. */
  private startDimension(dim: string): DimensionRun {
    const level = this.scope.dim.length;
    const subtree = this.active.filter((n) => startsWith(n.dim, [...this.scope.dim, dim]));
    const stageCount = 1 + Math.max(0, ...subtree.map((n) => n.stages[level] ?? 0));
    const settle: ((outcome: DimensionOutcome) => void)[] = [];
    const stages = Array.from({ length: stageCount }, () => new Promise<DimensionOutcome>((resolve) => settle.push(resolve)));
    const all = (async () => {
      for (let stage = 0; stage < stageCount; stage++) {
        const outcome = await this.evaluateStage(dim, subtree, stage);
        settle[stage]?.(outcome);
      }
    })();
    return { stages, all };
  }

  private async evaluateNode(node: PlanNode): Promise<StepRecord> {
    const key = stepKey(node.id, this.scope.keys);
    const base = { node: node.id, mappingKeys: [...this.scope.keys] };
    const bindings = await Promise.all(node.inputs.map((input) => this.resolveInput(node, input.name, input.source)));
    const abandoned = bindings.find((b) => b.state === 'abandoned');
    let record: StepRecord;
    if (abandoned && abandoned.state === 'abandoned') {
      record = { ...base, status: 'ABANDONED', error: { type: 'Abandoned', message: `Dependencies for step ${key} failed: ${abandoned.reason}. Not executing.` } };
    } else if (bindings.some((b) => b.state === 'missing')) {
      record = { ...base, status: 'SKIPPED' };
    } else {
      const inputs: Record<string, unknown> = {};
      node.inputs.forEach((input, i) => {
        const binding = bindings[i];
        inputs[input.name] = binding?.state === 'value' ? binding.value : undefined;
      });
      this.progress.stepStarted(node.id);
      record = await this.execute(node, key, inputs);
    }
    this.steps[key] = record;
    this.progress.stepFinished(record, record.status === 'SUCCESS' || record.status === 'FAILURE');
    return record;
  }

  private async resolveInput(node: PlanNode, name: string, source: InputSource): Promise<Binding> {
    switch (source.kind) {
      case 'config':
        return { state: 'value', value: this.scope.runConfig[node.id]?.inputs[name] };
      case 'output':
        return this.valueOf(source);
      case 'item':
        return this.bound(dimensionId(source));
      case 'collect':
        return this.collect(source);
      case 'fanin': {
        const parts = await Promise.all(source.sources.map((ref) => this.valueOf(ref)));
        return gather(parts, source.sources.length);
      }
    }
  }

  private bound(name: string): Binding {
    return this.scope.bindings[name] ?? { state: 'abandoned', reason: `internal error: "${name}" was not passed into this scope` };
  }

  /** The value of `ref`: from a node of this scope (or an earlier stage of it), or bound from an enclosing scope. */
  private async valueOf(ref: OutputRef): Promise<Binding> {
    const prior = this.scope.prior[stepKey(ref.node, this.scope.keys)];
    if (prior) return outputBinding(prior, ref.output);
    const producer = this.nodes.get(ref.node);
    if (!producer || !this.isHere(producer)) return this.bound(`${ref.node}:${ref.output}`);
    return outputBinding(await this.runNode(ref.node), ref.output);
  }

  private async collect(ref: OutputRef): Promise<Binding> {
    const producer = this.node(ref.node);
    const output = producer.outputs.find((o) => o.name === ref.output);
    if (output?.dynamic) {
      // The raw items of a fan-out op in this scope: known once that op finishes.
      const record = await this.runNode(producer.id);
      // A stored fan-out list is collected lazily: the consuming op loads it from the store.
      return outputBinding(record, ref.output, (o) =>
        'items' in o ? o.items.map(([, v]) => v) : 'itemsRef' in o ? { $opgraphItems: o.itemsRef } : undefined,
      );
    }
    const level = producer.dim.length - 1;
    const dim = producer.dim[level];
    if (dim === undefined) return { state: 'abandoned', reason: `internal error: "${ref.node}" is not mapped` };
    // Wait only for the stage that produces this node: later stages may need this very collect.
    const stage = this.runDimension(dim).stages[producer.stages[level] ?? 0];
    if (!stage) return { state: 'abandoned', reason: `internal error: no stage for "${ref.node}"` };
    const outcome = await stage;
    if (outcome.state === 'abandoned') return outcome;
    if (outcome.state === 'skipped') return missing;
    if (outcome.shards) return collectShards(outcome.shards, producer.id, ref.output, this.scope.keys.length + 1);
    const parts = outcome.keys.map((k) => {
      const record = this.steps[stepKey(producer.id, [...this.scope.keys, k])];
      return record ? outputBinding(record, ref.output) : missing;
    });
    return gather(parts, parts.length);
  }

  private async evaluateStage(dim: string, subtree: readonly PlanNode[], stage: number): Promise<DimensionOutcome> {
    const source = parseDimensionId(dim);
    const fanOut = await this.runNode(source.node);
    const fanOutKey = stepKey(source.node, this.scope.keys);
    if (fanOut.status === 'FAILURE') return { state: 'abandoned', reason: `[${fanOutKey}] failed` };
    if (fanOut.status === 'ABANDONED') return { state: 'abandoned', reason: `[${fanOutKey}] was not executed` };
    const produced = fanOut.outputs?.find((o) => o.name === source.output);
    if (fanOut.status === 'SKIPPED' || !produced || 'value' in produced) return { state: 'skipped' };

    const childDim = [...this.scope.dim, dim];
    const level = this.scope.dim.length;
    const stageNodes = subtree.filter((n) => (n.stages[level] ?? 0) === stage);
    // The child gets the whole dimension (for lookups) and runs only this stage's nodes.
    const subPlan: JobPlan = { ...this.scope.plan, nodes: [...subtree] };
    const shared = await this.bindingsFor(stageNodes, new Set(subtree.map((n) => n.id)));
    const progressLabel = stage === 0 ? dim : `${dim} (stage ${stage + 1})`;
    const request: DimensionRequest = { plan: subPlan, dim: childDim, source, outerKeys: this.scope.keys, stage };
    const options = this.scope.plan.dimensions?.[dim] ?? {};
    const dimLevelNodes = subtree.filter((n) => sameDim(n.dim, childDim) && (n.stages[level] ?? 0) < stage);
    const count = 'items' in produced ? produced.items.length : produced.count;
    const perShard = shardSize(options, stageNodes.length);
    this.progress.dimensionKeys(progressLabel, count);

    if (!('items' in produced) || count > perShard) {
      // Too many keys for one workflow's history: shard workflows each own a slice of them.
      const previous = stage > 0 ? this.shardRuns.get(dim)?.[stage - 1] : undefined;
      const shards = Array.from({ length: Math.ceil(count / perShard) }, (_, i) => ({ start: i * perShard, end: Math.min(count, (i + 1) * perShard) }));
      const results: ShardResult[] = [];
      const perStage = this.shardRuns.get(dim) ?? [];
      perStage[stage] = results;
      this.shardRuns.set(dim, perStage);
      // Two shards overlap (so one's slowest keys don't idle the other's lanes), sharing the window.
      const window = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
      const concurrentShards = Math.min(SHARDS_IN_FLIGHT, shards.length);
      const shardPlan: JobPlan = {
        ...subPlan,
        dimensions: { ...subPlan.dimensions, [dim]: { ...options, maxConcurrency: Math.max(1, Math.ceil(window / concurrentShards)) } },
      };
      const shardRequest: DimensionRequest = { ...request, plan: shardPlan };
      await forEachWindowed(shards, concurrentShards, async ({ start, end }, index) => {
        const result = await this.engine.runShard(shardRequest, {
          start,
          end,
          items: 'items' in produced ? { inline: produced.items.slice(start, end) } : { ref: produced.itemsRef },
          bindings: shared,
          priorParts: previous?.[index]?.parts ?? [],
          priorNodes: dimLevelNodes.map((n) => n.id),
          index,
        });
        results[index] = result;
        this.progress.shardFinished(progressLabel, end - start, result);
      });
      return { state: 'done', keys: [], shards: results };
    }

    const keys = produced.items.map(([key]) => key);
    const results: ScopeResult[] = [];
    const perStage = this.childResults.get(dim) ?? [];
    perStage[stage] = results;
    this.childResults.set(dim, perStage);
    const keyed = produced.items.map(([key, value]): KeyedScope => {
      const childKeys = [...this.scope.keys, key];
      const prior: Record<string, StepRecord> = {};
      for (const node of dimLevelNodes) {
        const record = this.steps[stepKey(node.id, childKeys)];
        if (record) prior[stepKey(node.id, childKeys)] = record;
      }
      return { key, bindings: { ...shared, [dim]: { state: 'value', value } }, prior };
    });
    await runKeyed(this.scope, this.engine, this.progress, request, keyed, options, progressLabel, (index, result) => {
      results[index] = result;
      Object.assign(this.steps, result.steps);
    });
    return { state: 'done', keys };
  }

  /** Values from this scope (or above) that the nodes of a child dimension consume; `inside` = the dimension's nodes. */
  private async bindingsFor(consumers: readonly PlanNode[], inside: ReadonlySet<string>): Promise<Record<string, Binding>> {
    const needed = new Map<string, OutputRef>();
    const passThrough = new Set<string>();
    for (const node of consumers) {
      for (const { source } of node.inputs) {
        const refs = source.kind === 'output' ? [source] : source.kind === 'fanin' ? source.sources : [];
        for (const ref of refs) if (!inside.has(ref.node)) needed.set(`${ref.node}:${ref.output}`, ref);
        if (source.kind === 'item' && this.scope.dim.includes(dimensionId(source))) passThrough.add(dimensionId(source));
      }
    }
    const bindings: Record<string, Binding> = {};
    for (const name of passThrough) bindings[name] = this.bound(name);
    for (const [name, ref] of needed) bindings[name] = await this.valueOf(ref);
    return bindings;
  }

  private async execute(node: PlanNode, key: string, given: Record<string, unknown>): Promise<StepRecord> {
    const base = { node: node.id, mappingKeys: [...this.scope.keys] };
    const inputs = await fitInputs(given, this.engine);
    for (let attempt = 1; ; attempt++) {
      const task: OpTaskInput = {
        runId: this.scope.runId,
        job: this.scope.plan.job,
        node: node.id,
        op: node.op,
        stepKey: key,
        mappingKeys: [...this.scope.keys],
        inputs,
        config: this.scope.runConfig[node.id]?.config,
        attempt,
      };
      try {
        const result = await this.engine.executeAttempt(node, task);
        return { ...base, status: 'SUCCESS', outputs: result.outputs, attempts: attempt };
      } catch (err) {
        if (isCancellation(err)) throw err;
        const error = errorOf(err);
        // User-code failures are retried here, per the op's RetryPolicy, counted per step key.
        const policy = node.retryPolicy;
        if (error.type === FailureType.UserError && policy && attempt <= policy.maxRetries) {
          const delay = retryDelayMs(policy, attempt, () => this.engine.random());
          if (delay > 0) await this.engine.sleep(delay);
          continue;
        }
        return { ...base, status: 'FAILURE', error, attempts: attempt };
      }
    }
  }
}

/** Above this much JSON, an activity's inputs are moved to the store (Temporal refuses inputs over 2 MiB). */
const INPUTS_INLINE_LIMIT = 256 * 1024;
const CONCAT_CHUNK_CHARS = 384 * 1024;

/**
 * Values under the store threshold travel inline, but a collect or fan-in of many of them can add
 * up to more than one activity input may carry. Then the largest inputs go to the store: lists in
 * chunks (`$opgraphConcat`), other values whole; the op runner loads them back.
 */
async function fitInputs(inputs: Record<string, unknown>, engine: ScopeEngine): Promise<Record<string, unknown>> {
  const sizes = Object.entries(inputs).map(([name, value]) => ({ name, value, chars: JSON.stringify(value)?.length ?? 0 }));
  let total = sizes.reduce((sum, s) => sum + s.chars, 0);
  if (total <= INPUTS_INLINE_LIMIT) return inputs;
  // Only runs whose inputs were this large take this path, so older histories replay unchanged.
  if (!engine.patched('opgraph-store-large-inputs')) return inputs;
  const fitted = { ...inputs };
  for (const { name, value, chars } of sizes.sort((a, b) => b.chars - a.chars)) {
    if (total <= INPUTS_INLINE_LIMIT) break;
    if (Array.isArray(value)) {
      const refs: StoredRef[] = [];
      let chunk: unknown[] = [];
      let chunkChars = 0;
      for (const item of value) {
        const itemChars = JSON.stringify(item)?.length ?? 4;
        if (chunk.length > 0 && chunkChars + itemChars > CONCAT_CHUNK_CHARS) {
          refs.push(await engine.store(chunk));
          chunk = [];
          chunkChars = 0;
        }
        chunk.push(item);
        chunkChars += itemChars;
      }
      if (chunk.length > 0) refs.push(await engine.store(chunk));
      fitted[name] = { $opgraphConcat: refs };
    } else {
      fitted[name] = await engine.store(value);
    }
    total -= chars;
  }
  return fitted;
}

/** The dimension a batch or shard input describes. */
export function dimensionRequestOf(input: DimensionRequest): DimensionRequest {
  return { plan: input.plan, dim: input.dim, source: input.source, outerKeys: input.outerKeys, stage: input.stage };
}

/** The scope of one mapping key of a dimension. */
export function childScope(parent: Omit<ScopeContext, 'dim' | 'keys' | 'bindings' | 'prior' | 'stage'>, request: DimensionRequest, item: KeyedScope): ScopeContext {
  return {
    runId: parent.runId,
    plan: request.plan,
    runConfig: parent.runConfig,
    dim: request.dim,
    keys: [...request.outerKeys, item.key],
    bindings: item.bindings,
    stage: request.stage,
    prior: item.prior,
  };
}

/** Step records blaming every step of a key's scope, for a child that ended without reporting (terminated, timed out). */
export function failedScope(request: DimensionRequest, key: string, error: StepError): ScopeResult {
  const keys = [...request.outerKeys, key];
  const level = request.dim.length - 1;
  const steps: Record<string, StepRecord> = {};
  for (const node of request.plan.nodes) {
    if (sameDim(node.dim, request.dim) && (node.stages[level] ?? 0) === request.stage) {
      steps[stepKey(node.id, keys)] = { node: node.id, mappingKeys: keys, status: 'FAILURE', error };
    }
  }
  return { steps };
}

/**
 * Runs the given keys of one dimension per its mode — a child workflow per key, the key's steps as
 * activities of this workflow, or batches of keys per activity — within the sliding window.
 * `finished` receives each key's result with its index.
 */
export async function runKeyed(
  scope: Omit<ScopeContext, 'dim' | 'keys' | 'bindings' | 'prior' | 'stage'>,
  engine: ScopeEngine,
  progress: ProgressSink,
  request: DimensionRequest,
  keyed: readonly KeyedScope[],
  options: DimensionOptions,
  progressLabel: string,
  finished: (index: number, result: ScopeResult) => void,
): Promise<void> {
  const mode = options.mode ?? 'child';
  const window = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  const done = (index: number, result: ScopeResult, countSteps: boolean) => {
    finished(index, result);
    if (countSteps) progress.childSteps(result.steps);
    progress.childFinished(progressLabel, Object.values(result.steps).some((r) => r.status === 'FAILURE'));
  };
  if (mode === 'batch') {
    const size = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const batches = Array.from({ length: Math.ceil(keyed.length / size) }, (_, b) => keyed.slice(b * size, (b + 1) * size));
    await forEachWindowed(batches, window, async (batch, b) => {
      batch.forEach(() => progress.childStarted(progressLabel));
      const batchResults = await engine.runBatch(request, batch, b);
      batchResults.forEach((result, i) => done(b * size + i, result, true));
    });
    return;
  }
  await forEachWindowed(keyed, window, async (item, index) => {
    progress.childStarted(progressLabel);
    if (mode === 'activity') {
      // The key's steps run as activities of this very workflow: no child, lower overhead.
      const inline = new ScopeInterpreter(childScope(scope, request, item), engine, progress);
      done(index, await inline.run(), false);
    } else {
      done(index, await engine.runChild(request, item), true);
    }
  });
}

/**
 * Keys per shard, so that no workflow's history nears Temporal's 10,240-event warning: a child
 * costs its parent up to ~9 events, an activity up to ~6 per step, a batch ~6 per batch.
 */
export function shardSize(options: DimensionOptions, stepsPerKey: number): number {
  if (options.shardSize) return options.shardSize;
  switch (options.mode ?? 'child') {
    case 'child':
      return 500;
    case 'activity':
      return Math.max(50, Math.floor(1000 / Math.max(1, stepsPerKey)));
    case 'batch':
      return Math.min(5000, (options.batchSize ?? DEFAULT_BATCH_SIZE) * 500);
  }
}

/** The binding for one output of a finished step. */
function outputBinding(
  record: StepRecord,
  output: string,
  pick: (o: NonNullable<StepRecord['outputs']>[number]) => unknown = (o) => ('value' in o ? o.value : undefined),
): Binding {
  const key = stepKey(record.node, record.mappingKeys);
  if (record.status === 'FAILURE') return { state: 'abandoned', reason: `[${key}] failed` };
  if (record.status === 'ABANDONED') return { state: 'abandoned', reason: `[${key}] was not executed` };
  const produced = record.outputs?.find((o) => o.name === output);
  if (record.status === 'SKIPPED' || !produced) return missing;
  return { state: 'value', value: pick(produced) };
}

/** A collect over a sharded dimension, decided from the shards' summaries and resolved lazily by the consuming op. */
function collectShards(shards: readonly ShardResult[], node: string, output: string, depth: number): Binding {
  let keys = 0;
  let produced = 0;
  const broken: string[] = [];
  for (const shard of shards) {
    keys += shard.keys;
    const summary = shard.nodes[node];
    produced += summary?.produced[output] ?? 0;
    const failed = (summary?.statuses.FAILURE ?? 0) + (summary?.statuses.ABANDONED ?? 0);
    if (failed > 0) {
      const named = shard.failures.filter((f) => f.stepKey.startsWith(`${node}[`)).map((f) => `[${f.stepKey}] failed`);
      broken.push(...(named.length > 0 ? named : [`${failed} step(s) of ${node} failed or were not executed`]));
    }
  }
  if (broken.length > 0) return { state: 'abandoned', reason: broken.slice(0, 5).join(', ') };
  if (keys > 0 && produced === 0) return missing;
  return { state: 'value', value: { $opgraphCollect: { parts: shards.flatMap((s) => s.parts), node, output, depth } } };
}

/** A fan-in: abandoned if any source is; skipped only if it had sources and none produced a value. */
function gather(parts: readonly Binding[], sources: number): Binding {
  const abandoned = parts.filter((p) => p.state === 'abandoned');
  if (abandoned.length > 0) {
    return { state: 'abandoned', reason: abandoned.map((a) => (a.state === 'abandoned' ? a.reason : '')).join(', ') };
  }
  const values = parts.flatMap((p) => (p.state === 'value' ? [p.value] : []));
  if (sources > 0 && values.length === 0) return missing;
  return { state: 'value', value: values };
}

export function scopeResultOf(err: unknown): ScopeResult | undefined {
  if (!(err instanceof ChildWorkflowFailure) || !(err.cause instanceof ApplicationFailure)) return undefined;
  if (err.cause.type !== FailureType.ScopeFailed) return undefined;
  const details: unknown = err.cause.details?.[0];
  return isScopeResult(details) ? details : undefined;
}

/** The failure a step reports: the op's own error where there is one. */
export function errorOf(err: unknown): StepError {
  let cause: unknown = err;
  while ((cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  if (cause instanceof TimeoutFailure) return { type: 'Timeout', message: `${cause.timeoutType ?? 'timeout'}: ${cause.message}` };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: 'Error', message: String(cause) };
}

export function sameDim(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((d, i) => b[i] === d);
}

function startsWith(dim: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= dim.length && prefix.every((d, i) => dim[i] === d);
}
