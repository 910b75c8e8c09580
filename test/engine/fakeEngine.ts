/**
 * A fake ScopeEngine for engine unit tests: no Temporal, no files, no timers. Ops are functions
 * registered per op name (or node id) that produce TaskOutput records; children, batches and shards
 * run inline with the real interpreter, each "workflow" with its own real WorkflowBudget; the store
 * is an in-memory Map. Everything the engine asks for is recorded in a ledger shared by the job's
 * engine and every engine it spawns (children, shards, batches).
 *
 * Values cross each host boundary (activity input/result, child/batch/shard input/result) through
 * a JSON round trip, as they do through Temporal.
 */
import { createHash } from 'node:crypto';
import { stepKey } from '../../src/dsl/keys.ts';
import type { JobPlan, PlanNode } from '../../src/dsl/plan.ts';
import type {
  OpTaskInput,
  OpTaskResult,
  ScopeResult,
  ShardResult,
  SliceInput,
  SliceResult,
  StepError,
  StepRecord,
  StoredRef,
  TaskOutput,
} from '../../src/dsl/protocol.ts';
import { type BudgetGate, DEFAULT_LIMITS, type BudgetLimits, type Pending, WorkflowBudget } from '../../src/engine/budget.ts';
import { childScope } from '../../src/engine/geometry.ts';
import { ScopeInterpreter } from '../../src/engine/interpreter.ts';
import { NO_PROGRESS } from '../../src/engine/progress.ts';
import { runShardScope } from '../../src/engine/shardScope.ts';
import { WORKFLOW_BUDGET_PATCH } from '../../src/engine/sharding.ts';
import type { DimensionRequest, KeyedScope, ScopeContext, ScopeEngine, ShardRequest } from '../../src/engine/types.ts';
import { forEachWindowed } from '../../src/engine/window.ts';

/** What a registered op gets: the task with its inputs materialized (lazy store forms resolved), and the engine that ran it. */
export type FakeOp = (task: OpTaskInput, engine: FakeEngine) => TaskOutput[] | Promise<TaskOutput[]>;

/** A failure the op runner reports with its own type (e.g. 'OpValidationError'); plain errors thrown by an op become 'OpUserError'. */
export class FakeOpError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'FakeOpError';
  }
}

/** What `isCancellation` recognizes. */
export class FakeCancelled extends Error {
  override name = 'FakeCancelled';
}

/** What `fatal` returns. */
export class FakeFatal extends Error {
  override name = 'FakeFatal';
}

/**
 * An output as the op runner produces it, tagged with its `kind` (the engine reads untagged
 * records of older histories the same way, by the field only their variant has).
 */
function output(fields: { kind: 'value' | 'items' | 'itemsRef'; name: string; [field: string]: unknown }): TaskOutput {
  return fields as unknown as TaskOutput;
}

/** `{ name: 'result', value }`: a plain output. */
export function value(v: unknown, name = 'result'): TaskOutput[] {
  return [output({ kind: 'value', name, value: v })];
}

/** `{ name: 'result', items }`: a DynamicOut's items in yield order. */
export function items(pairs: readonly (readonly [string, unknown])[], name = 'result'): TaskOutput[] {
  return [output({ kind: 'items', name, items: pairs.map(([k, v]) => [k, v] as [string, unknown]) })];
}

/** `{ name: 'result', itemsRef, count }`: a fan-out list too large to return inline, already in the store. */
export function storedItems(ref: StoredRef, count: number, name = 'result'): TaskOutput[] {
  return [output({ kind: 'itemsRef', name, itemsRef: ref, count })];
}

/** `count` items `[k<i>, i]` (or mapped through `f`). */
export function keyed(count: number, f: (i: number) => unknown = (i) => i, prefix = 'k'): [string, unknown][] {
  return Array.from({ length: count }, (_, i) => [`${prefix}${i}`, f(i)] as [string, unknown]);
}

export interface AttemptEntry {
  readonly workflow: string;
  readonly node: string;
  readonly op: string;
  readonly stepKey: string;
  readonly attempt: number;
  /** Inputs as the engine sent them (references and lazy forms as they were). */
  readonly rawInputs: Record<string, unknown>;
}

export interface ChildEntry {
  readonly workflow: string;
  /** The child's workflow id, as TemporalEngine names it (`<parent>/<source step key>[/stage_<n>]`). */
  readonly id: string;
  readonly source: string;
  readonly output: string;
  readonly outerKeys: readonly string[];
  readonly key: string;
  readonly stage: number;
}

export interface BatchEntry {
  readonly workflow: string;
  readonly source: string;
  readonly outerKeys: readonly string[];
  readonly stage: number;
  readonly batchIndex: number;
  readonly keys: readonly string[];
}

export interface ShardEntry {
  readonly workflow: string;
  /** The shard's workflow id: `<parent>/<fan-out step key>[shard_<index>][/stage_<n>]`. */
  readonly id: string;
  readonly source: string;
  readonly outerKeys: readonly string[];
  readonly stage: number;
  readonly start: number;
  readonly end: number;
  readonly index: number;
  readonly inline: boolean;
}

export interface StoredEntry {
  readonly workflow: string;
  readonly ref: StoredRef;
  readonly json: string;
}

/** A promise an op can wait on; `FakeEngine.release` resolves them in order. */
interface Waiter {
  readonly label: string;
  readonly resolve: () => void;
}

export interface FakeOptions {
  readonly runId?: string;
  readonly runConfig?: ScopeContext['runConfig'];
  /** Per op name or node id (node id wins). */
  readonly ops?: Record<string, FakeOp>;
  /** Budget limits of every workflow (job, children, shards); batch activities are unbounded as in InProcessEngine. */
  readonly limits?: Partial<BudgetLimits>;
  /** Answers of `patched(id)` (default true); a function for anything fancier. */
  readonly patched?: Record<string, boolean> | ((id: string) => boolean);
  readonly seed?: number;
}

/** A real WorkflowBudget that numbers each request and records the order in which they are admitted. */
export class RecordingBudget extends WorkflowBudget {
  private tickets = 0;
  /** Tickets (request order) in admission order, per kind. */
  readonly admitted: Record<Pending, number[]> = { activity: [], child: [] };

  constructor(limits: BudgetLimits, gate: BudgetGate) {
    super(limits, gate);
  }

  override run<T>(kind: Pending, fn: () => Promise<T>, inputBytes?: number): Promise<T> {
    const ticket = this.tickets++;
    return super.run(
      kind,
      () => {
        this.admitted[kind].push(ticket);
        return fn();
      },
      inputBytes,
    );
  }
}

/** Everything shared by the job's engine and the engines it spawns. */
export class FakeWorld {
  readonly ops = new Map<string, FakeOp>();
  readonly attempts: AttemptEntry[] = [];
  readonly children: ChildEntry[] = [];
  readonly batches: BatchEntry[] = [];
  readonly shards: ShardEntry[] = [];
  readonly slices: SliceInput[] = [];
  readonly sleeps: number[] = [];
  readonly stored: StoredEntry[] = [];
  /** Every `patched(id)` asked, in order. */
  readonly patchedAsked: string[] = [];
  /** Calls in progress right now, and the most at once. */
  readonly pending = { attempts: 0, children: 0, batches: 0, shards: 0 };
  readonly peak = { attempts: 0, children: 0, batches: 0, shards: 0 };
  readonly waiters: Waiter[] = [];
  private readonly values = new Map<string, string>();
  private seed: number;

  constructor(readonly options: FakeOptions) {
    for (const [name, fn] of Object.entries(options.ops ?? {})) this.ops.set(name, fn);
    this.seed = options.seed ?? 42;
  }

  limits(): BudgetLimits {
    return { ...DEFAULT_LIMITS, ...this.options.limits };
  }

  patched(id: string): boolean {
    this.patchedAsked.push(id);
    const answer = this.options.patched;
    if (typeof answer === 'function') return answer(id);
    return answer?.[id] ?? true;
  }

  /** mulberry32: deterministic for a given seed. */
  random(): number {
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  enter(kind: keyof FakeWorld['pending']): () => void {
    this.pending[kind]++;
    this.peak[kind] = Math.max(this.peak[kind], this.pending[kind]);
    return () => {
      this.pending[kind]--;
    };
  }

  put(json: string, workflow: string): StoredRef {
    const sha256 = createHash('sha256').update(json).digest('hex');
    const ref: StoredRef = { $opgraphRef: 1, store: 'fake', key: sha256, bytes: Buffer.byteLength(json), sha256 };
    this.values.set(sha256, json);
    this.stored.push({ workflow, ref, json });
    return ref;
  }

  get(ref: StoredRef): unknown {
    const json = this.values.get(ref.key);
    if (json === undefined) throw new Error(`fake store has no value ${ref.key}`);
    return JSON.parse(json) as unknown;
  }
}

export function isRef(v: unknown): v is StoredRef {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>).$opgraphRef === 1;
}

function lazy(v: unknown, key: string): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === key ? (v as Record<string, unknown>)[key] : undefined;
}

/** What src/store/store.ts `materialize` does, in memory: references, lists of them, and the lazy collect/items/concat forms. */
export function materialize(world: FakeWorld, v: unknown): unknown {
  if (isRef(v)) return world.get(v);
  if (Array.isArray(v)) return v.some(isRef) ? v.map((x) => materialize(world, x)) : v;
  const collect = lazy(v, '$opgraphCollect') as
    { parts: StoredRef[]; node: string; output: string; depth: number; failedIn?: StoredRef[] } | undefined;
  if (collect) {
    const failed = new Set<string>();
    for (const part of collect.failedIn ?? []) {
      for (const record of Object.values((world.get(part) as ScopeResult).steps)) {
        const key = record.mappingKeys[collect.depth - 1];
        if (record.status === 'FAILURE' && !record.tolerated && key !== undefined) failed.add(key);
      }
    }
    const values: unknown[] = [];
    for (const part of collect.parts) {
      for (const record of Object.values((world.get(part) as ScopeResult).steps)) {
        if (record.node !== collect.node || record.mappingKeys.length !== collect.depth || record.status !== 'SUCCESS') continue;
        if (failed.has(record.mappingKeys[collect.depth - 1] ?? '')) continue;
        const output = record.outputs?.find((o) => o.name === collect.output);
        if (output && 'value' in output) values.push(materialize(world, output.value));
      }
    }
    return values;
  }
  const stored = lazy(v, '$opgraphItems');
  if (isRef(stored)) return (world.get(stored) as [string, unknown][]).map(([, x]) => materialize(world, x));
  const concat = lazy(v, '$opgraphConcat');
  if (Array.isArray(concat)) return concat.flatMap((ref) => world.get(ref as StoredRef) as unknown[]).map((x) => materialize(world, x));
  return v;
}

/** As through Temporal's JSON payload converter. */
function wire<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/**
 * Runs the scope a workflow runs, as the Temporal host does: the workflow's own steps are reserved
 * in its projected history first (keys run inline in mode 'activity' are reserved with their
 * dimension instead, so they go through `new ScopeInterpreter(…).run()` directly).
 */
export function runWorkflowScope(scope: ScopeContext, engine: ScopeEngine): Promise<ScopeResult> {
  const interpreter = new ScopeInterpreter(scope, engine);
  interpreter.reserveOwnSteps();
  return interpreter.run();
}

/** The top-level scope of a whole job. */
export function jobScope(plan: JobPlan, runId = 'run1', runConfig: ScopeContext['runConfig'] = {}): ScopeContext {
  return { runId, plan, runConfig, dim: [], keys: [], bindings: {}, stage: 0, prior: {} };
}

export class FakeEngine implements ScopeEngine {
  readonly budget: RecordingBudget;
  readonly world: FakeWorld;

  constructor(
    options: FakeOptions | FakeWorld = {},
    /** This engine's workflow: `job`, a child's or shard's id, or `batch:<…>` inside a batch activity. */
    readonly workflow = 'job',
    /** Inside a batch activity: unbounded budget, `patched` always true (as InProcessEngine). */
    private readonly inActivity = false,
  ) {
    this.world = options instanceof FakeWorld ? options : new FakeWorld(options);
    const unbounded = { pendingActivities: Infinity, pendingChildren: Infinity, historyEvents: Infinity };
    this.budget = new RecordingBudget(inActivity ? unbounded : this.world.limits(), () => this.patched(WORKFLOW_BUDGET_PATCH));
  }

  get runId(): string {
    return this.world.options.runId ?? 'run1';
  }

  get runConfig(): ScopeContext['runConfig'] {
    return this.world.options.runConfig ?? {};
  }

  /** Registers (or replaces) the function run for op name or node id `name`. */
  on(name: string, fn: FakeOp): this {
    this.world.ops.set(name, fn);
    return this;
  }

  /** Runs `plan` as a job, with a new interpreter on this engine. */
  run(plan: JobPlan): Promise<ScopeResult> {
    return runWorkflowScope(jobScope(plan, this.runId, this.runConfig), this);
  }

  /** A promise that resolves when the test calls `release`: lets ops stay pending as long as a test wants. */
  hold(label = ''): Promise<void> {
    return new Promise((resolve) => this.world.waiters.push({ label, resolve }));
  }

  /** Resolves the `count` oldest waiters; returns how many it resolved. */
  release(count = Infinity): number {
    const released = this.world.waiters.splice(0, count);
    for (const w of released) w.resolve();
    return released.length;
  }

  get waiting(): number {
    return this.world.waiters.length;
  }

  /** Stores `value` without going through the budget (for ops that return stored fan-outs). */
  storeNow(v: unknown): StoredRef {
    return this.world.put(JSON.stringify(v), this.workflow);
  }

  /** Every step record of a result: its own and those in its stored parts. */
  allSteps(result: { steps?: Record<string, StepRecord>; parts?: StoredRef[] }): Record<string, StepRecord> {
    const steps: Record<string, StepRecord> = { ...(result.steps ?? {}) };
    for (const part of result.parts ?? []) Object.assign(steps, this.allSteps(this.world.get(part) as ScopeResult));
    return steps;
  }

  // ScopeEngine

  async executeAttempt(node: PlanNode, task: OpTaskInput): Promise<OpTaskResult> {
    const exit = this.world.enter('attempts');
    try {
      const sent = wire(task);
      this.world.attempts.push({
        workflow: this.workflow,
        node: node.id,
        op: task.op,
        stepKey: task.stepKey,
        attempt: task.attempt,
        rawInputs: sent.inputs,
      });
      const fn = this.world.ops.get(node.id) ?? this.world.ops.get(task.op);
      if (!fn) throw new FakeOpError('OpDefinitionError', `no fake registered for op "${task.op}" (node "${node.id}")`);
      const inputs = Object.fromEntries(Object.entries(sent.inputs).map(([k, v]) => [k, materialize(this.world, v)]));
      let outputs: TaskOutput[];
      try {
        outputs = await fn({ ...sent, inputs }, this);
      } catch (err) {
        if (err instanceof FakeOpError || err instanceof FakeCancelled) throw err;
        // As the op runner: whatever the op's own code throws is a user error.
        throw new FakeOpError('OpUserError', err instanceof Error ? err.message : String(err));
      }
      return wire({ outputs });
    } finally {
      exit();
    }
  }

  async sleep(ms: number): Promise<void> {
    this.world.sleeps.push(ms);
  }

  random(): number {
    return this.world.random();
  }

  /** No controls here, so no window waits; polls if asked anyway. */
  async waitUntil(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  async runChild(request: DimensionRequest, item: KeyedScope): Promise<ScopeResult> {
    const keys = [...request.outerKeys, item.key];
    const id = `${this.workflow}/${stepKey(request.source.node, keys)}${request.stage > 0 ? `/stage_${request.stage + 1}` : ''}`;
    this.world.children.push({
      workflow: this.workflow,
      id,
      source: request.source.node,
      output: request.source.output,
      outerKeys: [...request.outerKeys],
      key: item.key,
      stage: request.stage,
    });
    const exit = this.world.enter('children');
    try {
      const child = new FakeEngine(this.world, id);
      const scope = childScope({ runId: this.runId, runConfig: this.runConfig }, wire(request), wire(item));
      return wire(await runWorkflowScope(scope, child));
    } finally {
      exit();
    }
  }

  async runBatch(request: DimensionRequest, batch: readonly KeyedScope[], batchIndex: number): Promise<ScopeResult[]> {
    this.world.batches.push({
      workflow: this.workflow,
      source: request.source.node,
      outerKeys: [...request.outerKeys],
      stage: request.stage,
      batchIndex,
      keys: batch.map((i) => i.key),
    });
    const exit = this.world.enter('batches');
    try {
      const inside = new FakeEngine(this.world, `${this.workflow}/batch_${batchIndex}`, true);
      const sent = wire(request);
      const results: ScopeResult[] = [];
      await forEachWindowed(wire(batch), 64, async (item, index) => {
        results[index] = await new ScopeInterpreter(childScope({ runId: this.runId, runConfig: this.runConfig }, sent, item), inside).run();
      });
      return wire(results);
    } finally {
      exit();
    }
  }

  async runShard(request: DimensionRequest, shard: ShardRequest): Promise<ShardResult> {
    const fanOutKey = stepKey(request.source.node, request.outerKeys);
    const id = `${this.workflow}/${fanOutKey}[shard_${shard.index}]${request.stage > 0 ? `/stage_${request.stage + 1}` : ''}`;
    this.world.shards.push({
      workflow: this.workflow,
      id,
      source: request.source.node,
      outerKeys: [...request.outerKeys],
      stage: request.stage,
      start: shard.start,
      end: shard.end,
      index: shard.index,
      inline: 'inline' in shard.items,
    });
    const exit = this.world.enter('shards');
    try {
      const { index: _index, sharing: _sharing, ...slice } = wire(shard);
      const inner = this.inActivity ? this : new FakeEngine(this.world, id);
      const input = {
        kind: 'shard' as const,
        runId: this.runId,
        plan: request.plan,
        runConfig: this.runConfig,
        dim: [...request.dim],
        outerKeys: [...request.outerKeys],
        source: request.source,
        stage: request.stage,
        ...slice,
      };
      return wire(await runShardScope(wire(input), inner, NO_PROGRESS));
    } finally {
      exit();
    }
  }

  async store(v: unknown): Promise<StoredRef> {
    return this.world.put(JSON.stringify(v), this.workflow);
  }

  /** What src/activities/bookkeeping.ts `sliceItems` does, in memory. */
  async slice(input: SliceInput): Promise<SliceResult> {
    this.world.slices.push(wire(input));
    let sliced: [string, unknown][] = [];
    if (input.itemsRef) {
      const all = this.world.get(input.itemsRef) as [string, unknown][];
      sliced = all.slice(input.start, input.end).map(([key, v]) => [key, this.offload(v, input.inlineLimit)] as [string, unknown]);
    }
    const wanted = new Set(input.priorNodes);
    const keys = input.itemsRef ? new Set(sliced.map(([key]) => key)) : input.keys ? new Set(input.keys) : undefined;
    const prior: Record<string, StepRecord> = {};
    for (const part of input.priorParts) {
      for (const record of Object.values((this.world.get(part) as ScopeResult).steps)) {
        if (!wanted.has(record.node) || record.mappingKeys.length !== input.depth) continue;
        if (keys && !keys.has(record.mappingKeys[input.depth - 1] ?? '')) continue;
        prior[stepKey(record.node, record.mappingKeys)] = record;
      }
    }
    return wire({ items: sliced, prior });
  }

  /** As src/store/store.ts `offload`: values over `threshold` bytes become references. */
  private offload(v: unknown, threshold: number): unknown {
    if (v === undefined) return v;
    const json = JSON.stringify(v);
    if (json === undefined || json.length <= threshold / 4 || Buffer.byteLength(json) <= threshold) return v;
    return this.world.put(json, this.workflow);
  }

  patched(id: string): boolean {
    return this.inActivity ? true : this.world.patched(id);
  }

  isCancellation(err: unknown): boolean {
    return err instanceof FakeCancelled;
  }

  errorOf(err: unknown): StepError {
    if (err instanceof FakeOpError) return { type: err.type, message: err.message };
    if (err instanceof Error) return { type: err.name, message: err.message };
    return { type: 'Error', message: String(err) };
  }

  fatal(message: string): Error {
    return new FakeFatal(message);
  }
}

/** Lets every ready promise chain run (a macrotask turn, a few times over). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Drives a run whose ops `hold()`: releases `step` waiters at a time until the run ends, calling
 * `observe` at every quiescent point (so a test can look at what is pending at once).
 */
export async function drive<T>(engine: FakeEngine, run: Promise<T>, observe: () => void = () => {}, step = 1): Promise<T> {
  let outcome: { ok: true; result: T } | { ok: false; error: unknown } | undefined;
  run.then(
    (result) => {
      outcome = { ok: true, result };
    },
    (error: unknown) => {
      outcome = { ok: false, error };
    },
  );
  for (let guard = 0; guard < 100_000 && !outcome; guard++) {
    await settle();
    if (outcome) break;
    observe();
    if (engine.release(step) === 0) throw new Error('run is stuck: nothing to release and not done');
  }
  if (!outcome) throw new Error('run did not finish');
  if (!outcome.ok) throw outcome.error instanceof Error ? outcome.error : new Error(JSON.stringify(outcome.error));
  return outcome.result;
}
