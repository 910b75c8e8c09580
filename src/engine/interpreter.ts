/**
 * Interprets one scope of a plan: the static top level of a job, or one mapping key of a dynamic
 * dimension. Nodes run as soon as their inputs are known (ready nodes run concurrently); each
 * dimension directly below this scope runs per its mode (src/engine/keyed.ts), or in shards when
 * this workflow's history budget cannot hold it (src/engine/sharding.ts).
 * Skip / abandon propagation follows Dagster's ActiveExecution (reference/dagster-semantics.md §6).
 * Host-neutral and deterministic: everything that touches the world goes through a ScopeEngine.
 */
import { dimensionId, opSignature, parseDimensionId, stepKey } from '../dsl/keys.ts';
import { EVENTS, PAYLOAD } from '../dsl/limits.ts';
import type { InputSource, OutputRef, PlanNode } from '../dsl/plan.ts';
import type {
  Binding,
  OpTaskInput,
  OpTaskResult,
  ReusedChunk,
  ScopeResult,
  ShardResult,
  SliceInput,
  StepRecord,
  StoredRef,
  TaskOutput,
} from '../dsl/protocol.ts';
import { exceedsTolerance, mapLabel, toleranceMessage } from '../dsl/tolerance.ts';
import { tagOutput } from '../dsl/wire.ts';
import {
  dimensionsBelow,
  earlierStageDeepNodes,
  earlierStageNodes,
  inStage,
  keyedScope,
  ownNodes,
  recordsByKey,
  recordsOfKey,
  sameDim,
  stageAt,
  stageCount,
  stageNodes,
  startsWith,
  subPlan,
  subtreeOf,
} from './geometry.ts';
import { taskBytes } from './inputSize.ts';
import { REDRIVE_KEYS_PATCH } from './redrive.ts';
import { runKeyed } from './keyed.ts';
import {
  chooseFit,
  chunkLengths,
  cut,
  jsonBytes,
  jsonChars,
  largestFirst,
  PAYLOAD_BUDGET_PATCH,
  storedByEither,
  storeWithin,
  type Measure,
} from './payload.ts';
import { NO_PROGRESS, shortError, type ProgressSink } from './progress.ts';
import { DAGSTER_JITTER_PATCH, retryDelayMs } from './retry.ts';
import { runShards, type ShardDecision } from './shards.ts';
import { storeInChunks } from './results.ts';
import { hasUntoleratedFailure, markShardTolerated, markTolerated } from './tolerance.ts';
import { keyEvents, keysPerShard, legacyShardSize, shardRanges, stepEvents, treeRanges } from './sharding.ts';
import type { DimensionRequest, KeyedScope, ScopeContext, ScopeEngine } from './types.ts';

type DimensionOutcome =
  | { state: 'abandoned'; reason: string }
  | { state: 'skipped' }
  | { state: 'done'; keys: string[]; shards?: ShardResult[]; tolerance?: StageTolerance };

/** A map with `toleratedFailures`, counted when one of its stages ends (this stage and the earlier ones). */
interface StageTolerance {
  readonly failed: number;
  readonly exceeded: boolean;
  /** `map over "keys": 3 of 40 keys failed, within …` (src/dsl/tolerance.ts). */
  readonly message: string;
  /** Keys run here: the failed ones, by name. */
  readonly failedKeys?: ReadonlySet<string>;
  /** Keys run in shards: the stored records that tell which keys failed. */
  readonly failedIn?: StoredRef[];
}

/** A dimension's run: one settled outcome per stage, each known as soon as that stage's wave ends. */
interface DimensionRun {
  readonly stages: Promise<DimensionOutcome>[];
  readonly all: Promise<void>;
}

const missing: Binding = { state: 'missing' };

/**
 * Gate for carrying deeper records into a later stage (an inner chained map split by a barrier on
 * the outer dimension). Runs recorded before it abandoned those inner steps; replaying them must not
 * schedule the steps now.
 */
export const NESTED_PRIOR_PATCH = 'opgraph-nested-stage-prior';

/** What the keys of one stage of a dimension carry besides their own level's earlier-stage records. */
interface Carried {
  /** Per mapping key: records held inline (this scope's runs of earlier stages, or given to this scope). */
  readonly records: Map<string, Record<string, StepRecord>>;
  /** Every record given to this scope for the keys below it, for shards (which pick their keys' records themselves). */
  readonly given: Record<string, StepRecord>;
  /** Nodes of the carried records. */
  readonly nodes: string[];
  /** Per key (by yield position): its earlier-stage results' stored parts (deeper records moved out of a child's result). */
  partsOf(index: number): StoredRef[];
}

export class ScopeInterpreter {
  private readonly nodes = new Map<string, PlanNode>();
  /** The plan's nodes that belong to this scope's stage (the plan also holds other stages, for lookups). */
  private readonly active: PlanNode[];
  private readonly steps: Record<string, StepRecord> = {};
  /** This key's records of earlier stages: given inline, plus any loaded from `scope.priorParts` as the scope starts. */
  private readonly prior: Record<string, StepRecord>;
  private readonly nodeRuns = new Map<string, Promise<StepRecord>>();
  private readonly dimensionRuns = new Map<string, DimensionRun>();
  /** Child results per dimension: stage by stage, keys in yield order. */
  private readonly childResults = new Map<string, ScopeResult[][]>();
  /** Shard results per sharded dimension: stage by stage, shards in key order. */
  private readonly shardRuns = new Map<string, ShardResult[][]>();
  /** How each dimension was sharded at its first stage (later stages keep the same ranges). */
  private readonly shardDecisions = new Map<string, ShardDecision>();
  /** Maps below this scope that ended with more failed keys than their `toleratedFailures` allow. */
  private readonly overTolerance: string[] = [];

  /** Runs steps whose inputs are known without a promise per input and per layer (see LEAN_KEYS_PATCH in src/engine/keyed.ts). */
  private readonly lean: boolean;

  constructor(
    private readonly scope: ScopeContext,
    private readonly engine: ScopeEngine,
    private readonly progress: ProgressSink = NO_PROGRESS,
    options: { lean?: boolean } = {},
  ) {
    this.lean = options.lean ?? false;
    for (const node of scope.plan.nodes) this.nodes.set(node.id, node);
    this.prior = { ...scope.prior };
    this.active = stageNodes(scope.plan.nodes, scope.dim, scope.stage);
  }

  /**
   * Reserves this scope's own steps in its workflow's projected history. Called by a host for the
   * scope a workflow runs; keys run inline (mode 'activity') were reserved with their dimension.
   */
  reserveOwnSteps(): void {
    for (const node of ownNodes(this.active, this.scope.dim, this.scope.stage)) {
      if (!this.prior[stepKey(node.id, this.scope.keys)]) this.engine.budget.reserveEvents(stepEvents(node));
    }
  }

  run(): Promise<ScopeResult> {
    const { priorParts, reused, reusedParts } = this.scope;
    if (!this.lean || (priorParts?.length ?? 0) + (reused?.length ?? 0) + (reusedParts?.length ?? 0) > 0) return this.loadAndRun();
    const here = ownNodes(this.active, this.scope.dim, this.scope.stage);
    const below = dimensionsBelow(this.active, this.scope.dim);
    const runs: Promise<unknown>[] = [...here.map((n) => this.runNode(n.id)), ...below.map((d) => this.runDimension(d).all)];
    return (runs.length === 1 ? (runs[0] as Promise<unknown>) : Promise.all(runs)).then(() => this.report(here, below));
  }

  private async loadAndRun(): Promise<ScopeResult> {
    if (this.scope.priorParts && this.scope.priorParts.length > 0) await this.loadPriorParts(this.scope.priorParts);
    if (this.scope.reused && this.scope.reused.length > 0) await this.loadReused(this.scope.reused);
    if (this.scope.reusedParts && this.scope.reusedParts.length > 0) await this.loadRedriven(this.scope.reusedParts);
    const here = ownNodes(this.active, this.scope.dim, this.scope.stage);
    const below = dimensionsBelow(this.active, this.scope.dim);
    await Promise.all([...here.map((n) => this.runNode(n.id)), ...below.map((d) => this.runDimension(d).all)]);
    return this.report(here, below);
  }

  /** This scope's result once its nodes and dimensions ran: steps in plan order, clones in yield order, whatever order they finished in. */
  private report(here: readonly PlanNode[], below: readonly string[]): ScopeResult {
    const ordered: Record<string, StepRecord> = {};
    for (const node of here) {
      const key = stepKey(node.id, this.scope.keys);
      // A re-execution reports the records it took over as its own, so collects and results see every step.
      const record = this.steps[key] ?? (this.prior[key]?.reused ? this.prior[key] : undefined);
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

  /** Loads this key's records held in stored earlier-stage results (only ever given in runs past NESTED_PRIOR_PATCH). */
  private async loadPriorParts(parts: readonly StoredRef[]): Promise<void> {
    if (this.scope.keys.length === 0) throw this.engine.fatal('internal error: earlier-stage parts given to the top-level scope');
    await this.loadOwnRecords({ priorParts: [...parts] });
  }

  /**
   * A re-execution's records of this scope: at the top level its own chunks (the job's steps), for a
   * key every chunk it was given (its records and those below it, which its dimensions carry down).
   */
  private async loadReused(chunks: readonly ReusedChunk[]): Promise<void> {
    const mine = this.scope.keys.length === 0 ? chunks.filter((c) => c.dim === '') : chunks;
    if (mine.length > 0) await this.loadOwnRecords({ priorParts: mine.map((c) => c.ref) });
  }

  /** A redriven key's earlier records: the slice keeps what did not fail (marked reused), so only the rest runs again. */
  private async loadRedriven(parts: readonly StoredRef[]): Promise<void> {
    await this.loadOwnRecords({ priorParts: [], reusedParts: [...parts] });
  }

  /** Adds the records of this scope's key (and those below it) held in stored `parts` to its prior records, with one slice activity. */
  private async loadOwnRecords(parts: Pick<SliceInput, 'priorParts' | 'reusedParts'>): Promise<void> {
    const depth = this.scope.keys.length;
    const key = this.scope.keys[depth - 1];
    const slice = await this.engine.budget.run('activity', () =>
      this.engine.slice({
        ...(key === undefined ? {} : { keys: [key] }),
        start: 0,
        end: 0,
        inlineLimit: PAYLOAD.sliceValue,
        ...parts,
        priorNodes: this.scope.plan.nodes.map((n) => n.id),
        depth,
      }),
    );
    Object.assign(this.prior, slice.prior);
  }

  /** The top level of a re-execution hands each dimension's chunks to its keys and shards. */
  private reusedChunks(dim: string): ReusedChunk[] {
    if (this.scope.keys.length > 0 || !this.scope.reused) return [];
    return this.scope.reused.filter((c) => c.dim === dim);
  }

  /**
   * What the keys of a dimension's stage carry besides their own level's earlier-stage records:
   * deeper records of earlier stages (an inner map that a later stage continues) and records this
   * scope was given for the keys below it. Undefined where there are none, and in runs recorded
   * before NESTED_PRIOR_PATCH.
   */
  private carriedDown(dim: string, subtree: readonly PlanNode[], childDim: readonly string[], stage: number): Carried | undefined {
    const depth = childDim.length;
    const deep = new Set(earlierStageDeepNodes(subtree, childDim, stage).map((n) => n.id));
    const inDimension = (record: StepRecord) => {
      const node = this.nodes.get(record.node);
      return node !== undefined && startsWith(node.dim, childDim);
    };
    const givenByKey = recordsByKey(this.prior, depth, inDimension);
    if (deep.size === 0 && givenByKey.size === 0) return undefined;
    if (!this.engine.patched(NESTED_PRIOR_PATCH)) return undefined;
    const records =
      deep.size > 0 ? recordsByKey(this.steps, depth, (r) => deep.has(r.node)) : new Map<string, Record<string, StepRecord>>();
    const given: Record<string, StepRecord> = {};
    for (const [key, mine] of givenByKey) {
      records.set(key, { ...records.get(key), ...mine });
      Object.assign(given, mine);
    }
    const nodes = new Set(deep);
    for (const record of Object.values(given)) nodes.add(record.node);
    const earlier = deep.size > 0 ? (this.childResults.get(dim) ?? []).slice(0, stage) : [];
    return { records, given, nodes: [...nodes], partsOf: (index) => earlier.flatMap((results) => results[index]?.parts ?? []) };
  }

  private isHere(node: PlanNode): boolean {
    return sameDim(node.dim, this.scope.dim) && inStage(node, this.scope.dim, this.scope.stage);
  }

  private node(id: string): PlanNode {
    const node = this.nodes.get(id);
    if (!node) throw this.engine.fatal(`plan has no node "${id}"`);
    return node;
  }

  private runNode(id: string): Promise<StepRecord> {
    const prior = this.prior[stepKey(id, this.scope.keys)];
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

  /** Runs a dimension stage by stage; each stage's outcome settles when its wave of keys ends. */
  private startDimension(dim: string): DimensionRun {
    const subtree = subtreeOf(this.active, this.scope.dim, dim);
    const count = stageCount(subtree, this.scope.dim.length);
    const settle: ((outcome: DimensionOutcome) => void)[] = [];
    const stages = Array.from({ length: count }, () => new Promise<DimensionOutcome>((resolve) => settle.push(resolve)));
    const all = (async () => {
      let outcome: DimensionOutcome | undefined;
      for (let stage = 0; stage < count; stage++) {
        outcome = await this.evaluateStage(dim, subtree, stage);
        settle[stage]?.(outcome);
      }
      if (outcome?.state === 'done' && outcome.tolerance) this.settleTolerance(dim, subtree, outcome.tolerance);
      // A job's map whose every stage ran can no longer be paused or resized (nor the maps nested in it).
      if (this.scope.dim.length === 0) this.engine.controls?.markFinished(dim);
    })();
    return { stages, all };
  }

  /** Maps below this scope that ended over their tolerance, one line each (the run fails for their failures). */
  get toleranceExceeded(): readonly string[] {
    return this.overTolerance;
  }

  /**
   * A map with `toleratedFailures` has run all its stages: within the tolerance, every failure of
   * its keys is marked tolerated (scopes above and the workflow then do not count them); over it,
   * they stay failures and the map is reported.
   */
  private settleTolerance(dim: string, subtree: readonly PlanNode[], tolerance: StageTolerance): void {
    if (tolerance.exceeded) {
      this.overTolerance.push(tolerance.message);
      return;
    }
    for (const stage of this.childResults.get(dim) ?? []) for (const result of stage) markTolerated(result);
    const inMap = new Set(subtree.map((n) => n.id));
    for (const stage of this.shardRuns.get(dim) ?? []) for (const shard of stage) markShardTolerated(shard, (node) => inMap.has(node));
  }

  /**
   * A map with `toleratedFailures` after `stage`: its failed keys so far, against the tolerance.
   * `keys`: the keys when they ran here (else they ran in shards, which count their failed keys).
   */
  private stageTolerance(dim: string, stage: number, total: number, keys?: readonly string[]): StageTolerance | undefined {
    const tolerance = this.scope.plan.dimensions?.[dim]?.toleratedFailures;
    if (!tolerance) return undefined;
    const label = mapLabel(parseDimensionId(dim), this.scope.keys);
    const report = (failed: number) => ({
      failed,
      exceeded: exceedsTolerance(tolerance, failed, total),
      message: toleranceMessage(label, tolerance, failed, total),
    });
    if (!keys) {
      const stages = (this.shardRuns.get(dim) ?? []).slice(0, stage + 1);
      const failed = stages.reduce((sum, shards) => sum + shards.reduce((n, shard) => n + (shard.failedKeys ?? 0), 0), 0);
      return { ...report(failed), failedIn: stages.flatMap((shards) => shards.flatMap((shard) => shard.parts)) };
    }
    const stages = (this.childResults.get(dim) ?? []).slice(0, stage + 1);
    const failedKeys = new Set(keys.filter((_, i) => stages.some((results) => results[i] && hasUntoleratedFailure(results[i]))));
    return { ...report(failedKeys.size), failedKeys };
  }

  private evaluateNode(node: PlanNode): Promise<StepRecord> {
    if (!this.lean) return this.evaluateNodeAsync(node);
    const ready = this.bindingsNow(node);
    if (ready) return this.evaluateWith(node, ready);
    // Steps of this scope it consumes (started here, in input order, as resolveInput does): wait for them alone.
    const producers = this.producersOf(node);
    if (!producers) return this.evaluateNodeAsync(node);
    return (producers.length === 1 ? (producers[0] as Promise<StepRecord>) : Promise.all(producers)).then(() => {
      const now = this.bindingsNow(node);
      return now ? this.evaluateWith(node, now) : this.evaluateNodeAsync(node);
    });
  }

  /** Runs the steps of this scope whose outputs `node` consumes; undefined when it needs more than steps (a collect). */
  private producersOf(node: PlanNode): Promise<StepRecord>[] | undefined {
    const runs: Promise<StepRecord>[] = [];
    for (const { source } of node.inputs) {
      if (source.kind === 'collect') return undefined;
      const refs = source.kind === 'output' ? [source] : source.kind === 'fanin' ? source.sources : [];
      for (const ref of refs) {
        if (this.valueNow(ref)) continue;
        runs.push(this.runNode(ref.node));
      }
    }
    return runs;
  }

  private evaluateWith(node: PlanNode, ready: readonly Binding[]): Promise<StepRecord> {
    const key = stepKey(node.id, this.scope.keys);
    const settled = this.settleInputs(node, key, ready);
    if ('record' in settled) return Promise.resolve(this.finishStep(key, settled.record));
    this.progress.stepStarted(node.id);
    return this.executeLean(node, key, settled.inputs).then((record) => this.finishStep(key, record));
  }

  private async evaluateNodeAsync(node: PlanNode): Promise<StepRecord> {
    const key = stepKey(node.id, this.scope.keys);
    const bindings = await Promise.all(node.inputs.map((input) => this.resolveInput(node, input.name, input.source)));
    const settled = this.settleInputs(node, key, bindings);
    let record: StepRecord;
    if ('record' in settled) {
      record = settled.record;
    } else {
      this.progress.stepStarted(node.id);
      record = await this.execute(node, key, settled.inputs);
    }
    return this.finishStep(key, record);
  }

  /** A step's inputs, once bound: the values to run it with, or its record when an input was abandoned or is missing. */
  private settleInputs(
    node: PlanNode,
    key: string,
    bindings: readonly Binding[],
  ): { record: StepRecord } | { inputs: Record<string, unknown> } {
    const base = { node: node.id, mappingKeys: [...this.scope.keys] };
    const abandoned = bindings.find((b) => b.state === 'abandoned');
    if (abandoned && abandoned.state === 'abandoned') {
      return {
        record: {
          ...base,
          status: 'ABANDONED',
          error: { type: 'Abandoned', message: `Dependencies for step ${key} failed: ${abandoned.reason}. Not executing.` },
        },
      };
    }
    if (bindings.some((b) => b.state === 'missing')) return { record: { ...base, status: 'SKIPPED' } };
    const inputs: Record<string, unknown> = {};
    node.inputs.forEach((input, i) => {
      const binding = bindings[i];
      inputs[input.name] = binding?.state === 'value' ? binding.value : undefined;
    });
    return { inputs };
  }

  private finishStep(key: string, record: StepRecord): StepRecord {
    this.steps[key] = record;
    this.progress.stepFinished(record, record.status === 'SUCCESS' || record.status === 'FAILURE');
    return record;
  }

  /** Every input of `node` when all are known right now (config, the key's item, finished or earlier-stage steps); else undefined. */
  private bindingsNow(node: PlanNode): Binding[] | undefined {
    const bindings: Binding[] = [];
    for (const { name, source } of node.inputs) {
      let binding: Binding | undefined;
      switch (source.kind) {
        case 'config':
          binding = { state: 'value', value: this.scope.runConfig[node.id]?.inputs[name] };
          break;
        case 'item':
          binding = this.bound(dimensionId(source));
          break;
        case 'output':
          binding = this.valueNow(source);
          break;
        case 'fanin': {
          const parts = source.sources.map((ref) => this.valueNow(ref));
          binding = parts.every((p) => p !== undefined) ? gather(parts, source.sources.length) : undefined;
          break;
        }
        case 'collect':
          binding = undefined;
          break;
      }
      if (binding === undefined) return undefined;
      bindings.push(binding);
    }
    return bindings;
  }

  /** What `valueOf` resolves to, when it is known without waiting. */
  private valueNow(ref: OutputRef): Binding | undefined {
    const prior = this.prior[stepKey(ref.node, this.scope.keys)];
    if (prior) return outputBinding(prior, ref.output);
    const producer = this.nodes.get(ref.node);
    if (!producer || !this.isHere(producer)) return this.bound(`${ref.node}:${ref.output}`);
    const done = this.steps[stepKey(ref.node, this.scope.keys)];
    return done ? outputBinding(done, ref.output) : undefined;
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
    const prior = this.prior[stepKey(ref.node, this.scope.keys)];
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
        o.kind === 'items' ? o.items.map(([, v]) => v) : o.kind === 'itemsRef' ? { $opgraphItems: o.itemsRef } : undefined,
      );
    }
    const level = producer.dim.length - 1;
    const dim = producer.dim[level];
    if (dim === undefined) return { state: 'abandoned', reason: `internal error: "${ref.node}" is not mapped` };
    // Wait only for the stage that produces this node: later stages may need this very collect.
    const stage = this.runDimension(dim).stages[stageAt(producer, level)];
    if (!stage) return { state: 'abandoned', reason: `internal error: no stage for "${ref.node}"` };
    const outcome = await stage;
    if (outcome.state === 'abandoned') return outcome;
    if (outcome.state === 'skipped') return missing;
    const tolerance = outcome.tolerance;
    if (outcome.shards) return collectShards(outcome.shards, producer.id, ref.output, this.scope.keys.length + 1, tolerance);
    // Within its tolerance, a map's collects leave its failed keys out; over it, they behave as without the option.
    const failed = tolerance && !tolerance.exceeded ? tolerance.failedKeys : undefined;
    const parts = outcome.keys
      .filter((k) => !failed?.has(k))
      .map((k) => {
        const record = this.steps[stepKey(producer.id, [...this.scope.keys, k])];
        return record ? outputBinding(record, ref.output) : missing;
      });
    return overTolerance(gather(parts, parts.length), tolerance);
  }

  private async evaluateStage(dim: string, subtree: readonly PlanNode[], stage: number): Promise<DimensionOutcome> {
    const source = parseDimensionId(dim);
    const fanOut = await this.runNode(source.node);
    const fanOutKey = stepKey(source.node, this.scope.keys);
    if (fanOut.status === 'FAILURE') return { state: 'abandoned', reason: `[${fanOutKey}] failed` };
    if (fanOut.status === 'ABANDONED') return { state: 'abandoned', reason: `[${fanOutKey}] was not executed` };
    const found = fanOut.outputs?.find((o) => o.name === source.output);
    // Read through its kind (records of older histories have none); the record itself is left as recorded.
    const produced = found && tagOutput(found);
    if (fanOut.status === 'SKIPPED' || !produced || produced.kind === 'value') return { state: 'skipped' };

    const childDim = [...this.scope.dim, dim];
    const level = this.scope.dim.length;
    const nodesOfStage = subtree.filter((n) => stageAt(n, level) === stage);
    const count = produced.kind === 'items' ? produced.items.length : produced.count;
    const shared = await fitShared(await this.bindingsFor(nodesOfStage, new Set(subtree.map((n) => n.id))), count, this.engine);
    const progressLabel = stage === 0 ? dim : `${dim} (stage ${stage + 1})`;
    const request: DimensionRequest = { plan: subPlan(this.scope.plan, subtree), dim: childDim, source, outerKeys: this.scope.keys, stage };
    const options = this.scope.plan.dimensions?.[dim] ?? {};
    const priorNodes = earlierStageNodes(subtree, childDim, stage);
    const carried = this.carriedDown(dim, subtree, childDim, stage);
    this.progress.dimensionKeys(progressLabel, count);

    const decision = this.shardDecision(dim, stage, subtree, nodesOfStage, count, produced.kind === 'items');
    if (decision.sharded) {
      // Too many keys for this workflow's history: shard workflows each own a slice of them.
      this.progress.dimensionSharded?.(progressLabel);
      const previous = stage > 0 ? this.shardRuns.get(dim)?.[stage - 1] : undefined;
      const results: ShardResult[] = [];
      // Records given to this scope for keys below it reach the shards through the store, like earlier stages' records.
      const givenParts = carried && Object.keys(carried.given).length > 0 ? await storeInChunks(carried.given, this.engine) : [];
      const reused = this.reusedChunks(dim);
      const perStage = this.shardRuns.get(dim) ?? [];
      perStage[stage] = results;
      this.shardRuns.set(dim, perStage);
      await runShards(this.engine, request, decision.ranges, options, {
        runConfig: this.scope.runConfig,
        items: (start, end) =>
          produced.kind === 'items'
            ? { kind: 'inline', inline: produced.items.slice(start, end) }
            : { kind: 'ref', ref: produced.itemsRef },
        bindings: shared,
        priorParts: (index) => [...(previous?.[index]?.parts ?? []), ...givenParts, ...reused.map((c) => c.ref)],
        priorNodes: [...priorNodes.map((n) => n.id), ...(carried?.nodes ?? []), ...(reused.length > 0 ? subtree.map((n) => n.id) : [])],
        finished: (index, result, keys) => {
          results[index] = result;
          this.progress.shardFinished(progressLabel, keys, result);
        },
      });
      const tolerance = this.stageTolerance(dim, stage, count);
      return { state: 'done', keys: [], shards: results, ...(tolerance ? { tolerance } : {}) };
    }
    if (produced.kind !== 'items') throw this.engine.fatal(`internal error: the stored fan-out of ${fanOutKey} was not sharded`);

    const keys = produced.items.map(([key]) => key);
    const results: ScopeResult[] = [];
    const perStage = this.childResults.get(dim) ?? [];
    perStage[stage] = results;
    this.childResults.set(dim, perStage);
    const priorIds = priorNodes.map((n) => n.id);
    const reused = this.reusedChunks(dim);
    const keyed = produced.items.map(([key, value], index): KeyedScope => {
      const prior = recordsOfKey(this.steps, priorIds, [...this.scope.keys, key]);
      const item = carried
        ? keyedScope(dim, key, value, shared, { ...prior, ...carried.records.get(key) })
        : keyedScope(dim, key, value, shared, prior);
      const parts = carried?.partsOf(index) ?? [];
      const chunks = reused.filter((c) => c.first <= key && key <= c.last);
      return { ...item, ...(parts.length > 0 ? { priorParts: parts } : {}), ...(chunks.length > 0 ? { reused: chunks } : {}) };
    });
    await runKeyed(
      this.scope,
      this.engine,
      this.progress,
      (scope, lean) => new ScopeInterpreter(scope, this.engine, this.progress, { lean }).run(),
      request,
      keyed,
      options,
      progressLabel,
      (index, result) => {
        results[index] = result;
        Object.assign(this.steps, result.steps);
      },
    );
    const tolerance = this.stageTolerance(dim, stage, count, keys);
    return { state: 'done', keys, ...(tolerance ? { tolerance } : {}) };
  }

  /**
   * Whether a dimension's stage runs its keys here or in shards. The workflow's budget decides:
   * the keys run here only if their projected events fit what this workflow has left (so several
   * maps together never outgrow one history). Decided at the first stage; later stages keep the
   * same shards, since they read the earlier stage's records shard by shard.
   */
  private shardDecision(
    dim: string,
    _stage: number,
    subtree: readonly PlanNode[],
    nodesOfStage: readonly PlanNode[],
    count: number,
    inline: boolean,
  ): ShardDecision {
    const options = this.scope.plan.dimensions?.[dim] ?? {};
    const legacySize = legacyShardSize(options, nodesOfStage.length);
    const legacy: ShardDecision =
      !inline || count > legacySize ? { sharded: true, ranges: shardRanges(count, legacySize) } : { sharded: false };
    let current = this.shardDecisions.get(dim);
    if (!current) {
      // Every stage of the dimension issues its keys again: project them all now.
      const childDim = [...this.scope.dim, dim];
      const level = this.scope.dim.length;
      const stages = stageCount(subtree, level);
      const perStage = Array.from({ length: stages }, (_, s) => {
        const nodes = subtree.filter((n) => stageAt(n, level) === s);
        return keyEvents(options, ownNodes(nodes, childDim, s), dimensionsBelow(nodes, childDim).length);
      });
      const perKey = perStage.reduce((sum, e) => sum + e, 0);
      // A shard workflow runs one stage of its range: size shards for the heaviest stage.
      const perShard = keysPerShard(options, Math.max(...perStage));
      const budget = this.engine.budget;
      if (inline && count <= perShard && budget.tryReserveEvents(count * perKey)) {
        current = { sharded: false };
      } else {
        const ranges = treeRanges(count, perShard, Math.max(1, Math.floor(budget.freeEvents / (EVENTS.shard * stages))));
        budget.reserveEvents(ranges.length * EVENTS.shard * stages);
        current = { sharded: true, ranges };
      }
      this.shardDecisions.set(dim, current);
    }
    return chooseFit(current, legacy, () => this.engine.budget.enforced());
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

  /** A step's first attempt without an async layer; a failed attempt goes on in `execute` (retries, redrive). */
  private executeLean(node: PlanNode, key: string, inputs: Record<string, unknown>): Promise<StepRecord> {
    if (inputFit(inputs, this.engine).length > 0) return this.execute(node, key, inputs);
    return this.attempt(node, key, inputs, 1).then(
      (result) => this.succeeded(node, key, result.outputs, 1),
      (error: unknown) => this.execute(node, key, inputs, { error }),
    );
  }

  /** One attempt of a step, within the workflow's budget (the budget's own promise: no extra tick). */
  private attempt(node: PlanNode, key: string, inputs: Record<string, unknown>, attempt: number): Promise<OpTaskResult> {
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
    // The signature is not counted: the budget's byte sums decide when steps start, as they did before it was sent.
    const sent: OpTaskInput = { ...task, signature: opSignature(node) };
    return this.engine.budget.run('activity', () => this.engine.executeAttempt(node, sent), taskBytes(task));
  }

  private succeeded(node: PlanNode, key: string, outputs: TaskOutput[], attempts: number): StepRecord {
    this.progress.stepRetrying?.(node.id, key, undefined);
    return { node: node.id, mappingKeys: [...this.scope.keys], status: 'SUCCESS', outputs, attempts };
  }

  /**
   * Runs a step: its attempts, retries per its policy, and (onStepFailure 'wait') its redrives.
   * `firstFailed`: its first attempt already ran and failed with this error (executeLean).
   */
  private async execute(
    node: PlanNode,
    key: string,
    given: Record<string, unknown>,
    firstFailed?: { error: unknown },
  ): Promise<StepRecord> {
    const base = { node: node.id, mappingKeys: [...this.scope.keys] };
    const inputs = firstFailed ? given : await fitInputs(given, this.engine);
    // Attempts before the last redrive do not count against the retry policy.
    let retriesFrom = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        if (firstFailed && attempt === 1) throw firstFailed.error;
        const result = await this.attempt(node, key, inputs, attempt);
        return this.succeeded(node, key, result.outputs, attempt);
      } catch (err) {
        if (this.engine.isCancellation(err)) throw err;
        const error = this.engine.errorOf(err);
        // User-code failures are retried here, per the op's RetryPolicy, counted per step key.
        const policy = node.retryPolicy;
        if (error.type === 'OpUserError' && policy && attempt - retriesFrom <= policy.maxRetries) {
          // Named in the progress query while it waits and reruns (no command: the query reads it).
          const of = retriesFrom + policy.maxRetries + 1;
          this.progress.stepRetrying?.(node.id, key, { attempt: attempt + 1, of, error: shortError(error) });
          const delay = retryDelayMs(
            policy,
            attempt - retriesFrom,
            () => this.engine.random(),
            () => this.engine.patched(DAGSTER_JITTER_PATCH),
          );
          if (delay > 0) await this.engine.sleep(delay);
          continue;
        }
        const failed: StepRecord = { ...base, status: 'FAILURE', error, attempts: attempt };
        this.progress.stepRetrying?.(node.id, key, undefined);
        // With onStepFailure 'wait' (in the job workflow): wait for a redrive, then start over with a fresh retry budget.
        if (!(await this.waitForRedrive(node, key, failed))) return failed;
        retriesFrom = attempt;
      }
    }
  }

  /** Parks a failed step where failures wait; true when it is redriven, false when given up (or nothing waits here). */
  private async waitForRedrive(node: PlanNode, key: string, failed: StepRecord): Promise<boolean> {
    const failures = this.engine.failures;
    if (!failures) return false;
    // Steps of a key wait with their whole key (src/engine/keyed.ts), so the key does not hold its map's lane.
    if (this.scope.keys.length > 0 && this.engine.patched(REDRIVE_KEYS_PATCH)) return false;
    this.progress.stepWaiting?.(node.id, true);
    try {
      return (await failures.park([{ stepKey: key, error: failed.error }], 0, stepEvents(node))) === 'redrive';
    } finally {
      this.progress.stepWaiting?.(node.id, false);
    }
  }
}

/** How an activity's inputs are fitted: which inputs go to the store, and lists in chunks of which lengths. */
type InputFit = { name: string; chunks: number[] | null }[];

function planInputFit(inputs: Record<string, unknown>, measure: Measure, limit: number, chunk: number): InputFit {
  const entries = Object.entries(inputs).map(([name, value]) => ({ key: name, size: measure(value) }));
  return largestFirst(entries, limit).map((name) => {
    const value = inputs[name];
    return { name, chunks: Array.isArray(value) ? chunkLengths(value.map(measure), chunk) : null };
  });
}

/** Before the payload budget: characters, 256 Ki inline, 384 Ki chunks (kept for replay). */
const LEGACY_INPUTS_INLINE_CHARS = 256 * 1024;
const LEGACY_CONCAT_CHUNK_CHARS = 384 * 1024;

/**
 * Values under the store threshold travel inline, but a collect or fan-in of many of them can add
 * up to more than one activity input may carry. Then the largest inputs go to the store: lists in
 * chunks (`$opgraphConcat`), other values whole; the op runner loads them back.
 */
function inputFit(inputs: Record<string, unknown>, engine: ScopeEngine): InputFit {
  const current = planInputFit(inputs, jsonBytes, PAYLOAD.activityInput, PAYLOAD.chunk);
  const legacy = planInputFit(inputs, jsonChars, LEGACY_INPUTS_INLINE_CHARS, LEGACY_CONCAT_CHUNK_CHARS);
  return storedByEither(engine, current, legacy, 'opgraph-store-large-inputs');
}

async function fitInputs(inputs: Record<string, unknown>, engine: ScopeEngine): Promise<Record<string, unknown>> {
  const fit = inputFit(inputs, engine);
  if (fit.length === 0) return inputs;
  const fitted = { ...inputs };
  for (const { name, chunks } of fit) {
    const value = inputs[name];
    if (chunks && Array.isArray(value)) {
      const refs: StoredRef[] = [];
      for (const part of cut(value, chunks)) refs.push(await storeWithin(engine, part));
      fitted[name] = { $opgraphConcat: refs };
    } else {
      fitted[name] = await storeWithin(engine, value);
    }
  }
  return fitted;
}

/**
 * Values every key of a map receives travel once per key (in each child's input, each step's
 * input): when they add up over the keys, each is stored once and the keys get references.
 * Values that are already references or lazy lists stay as they are.
 */
async function fitShared(shared: Record<string, Binding>, keys: number, engine: ScopeEngine): Promise<Record<string, Binding>> {
  const entries = Object.entries(shared).flatMap(([name, binding]) =>
    binding.state === 'value' && !isLazy(binding.value) ? [{ key: name, size: jsonBytes(binding.value) }] : [],
  );
  const total = entries.reduce((sum, e) => sum + e.size, 0) * keys;
  if (total <= PAYLOAD.sharedPerDimension) return shared;
  const current = entries.filter((e) => e.size >= PAYLOAD.smallestStored).map((e) => e.key);
  const chosen = chooseFit(current, [], () => engine.patched(PAYLOAD_BUDGET_PATCH));
  if (chosen.length === 0) return shared;
  const fitted = { ...shared };
  for (const name of chosen) {
    const binding = shared[name];
    if (binding?.state !== 'value') continue;
    // A list is stored as one chunk of a concat, so the op runner also loads any references inside it.
    const value = Array.isArray(binding.value)
      ? { $opgraphConcat: [await storeWithin(engine, binding.value)] }
      : await storeWithin(engine, binding.value);
    fitted[name] = { state: 'value', value };
  }
  return fitted;
}

/** A stored reference, or a value holding one (a lazy list): storing it again would hide it from the op runner. */
function isLazy(value: unknown): boolean {
  return JSON.stringify(value)?.includes('"$opgraph') ?? false;
}

/** The binding for one output of a finished step. */
function outputBinding(
  record: StepRecord,
  output: string,
  pick: (o: TaskOutput) => unknown = (o) => (o.kind === 'value' ? o.value : undefined),
): Binding {
  const key = stepKey(record.node, record.mappingKeys);
  if (record.status === 'FAILURE') return { state: 'abandoned', reason: `[${key}] failed` };
  if (record.status === 'ABANDONED') return { state: 'abandoned', reason: `[${key}] was not executed` };
  const produced = record.outputs?.find((o) => o.name === output);
  if (record.status === 'SKIPPED' || !produced) return missing;
  return { state: 'value', value: pick(tagOutput(produced)) };
}

/**
 * A collect over a sharded dimension, decided from the shards' summaries and resolved lazily by the
 * consuming op. Within a map's tolerance, its failed keys' steps may be broken (up to one per failed
 * key) and the consuming op leaves those keys out (`failedIn`).
 */
function collectShards(shards: readonly ShardResult[], node: string, output: string, depth: number, tolerance?: StageTolerance): Binding {
  const within = tolerance && !tolerance.exceeded ? tolerance : undefined;
  let keys = 0;
  let produced = 0;
  let brokenSteps = 0;
  const broken: string[] = [];
  for (const shard of shards) {
    keys += shard.keys;
    const summary = shard.nodes[node];
    produced += summary?.produced[output] ?? 0;
    const failed = (summary?.statuses.FAILURE ?? 0) + (summary?.statuses.ABANDONED ?? 0);
    brokenSteps += failed;
    if (failed > 0) {
      const named = shard.failures.filter((f) => f.stepKey.startsWith(`${node}[`)).map((f) => `[${f.stepKey}] failed`);
      broken.push(...(named.length > 0 ? named : [`${failed} step(s) of ${node} failed or were not executed`]));
    }
  }
  if (broken.length > 0 && !(within && brokenSteps <= within.failed)) {
    return overTolerance({ state: 'abandoned', reason: broken.slice(0, 5).join(', ') }, tolerance);
  }
  const remaining = within ? keys - within.failed : keys;
  if (remaining > 0 && produced === 0) return missing;
  const lazy = { parts: shards.flatMap((s) => s.parts), node, output, depth, ...(within ? { failedIn: within.failedIn ?? [] } : {}) };
  return { state: 'value', value: { $opgraphCollect: lazy } };
}

/** A collect's binding, abandoned with the reason led by the map's tolerance when it was exceeded. */
function overTolerance(binding: Binding, tolerance: StageTolerance | undefined): Binding {
  if (binding.state !== 'abandoned' || !tolerance?.exceeded) return binding;
  return { state: 'abandoned', reason: `${tolerance.message}: ${binding.reason}` };
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
