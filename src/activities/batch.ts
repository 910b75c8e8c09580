import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { thrownClassOf } from '../dsl/constants.ts';
import type { Definitions } from '../dsl/job.ts';
import { BUDGET } from '../dsl/limits.ts';
import { BatchInput, type BatchResult, FailureType, type OpTaskResult, type SliceInput, type StepError } from '../dsl/protocol.ts';
import { WorkflowBudget } from '../engine/budget.ts';
import { childScope, dimensionRequestOf } from '../engine/geometry.ts';
import { ScopeInterpreter } from '../engine/interpreter.ts';
import { NO_PROGRESS } from '../engine/progress.ts';
import { runShardScope } from '../engine/shardScope.ts';
import type { DimensionRequest, KeyedScope, ScopeEngine, ShardRequest } from '../engine/types.ts';
import { forEachWindowed } from '../engine/window.ts';
import { fitBatchResults } from './fitting.ts';
import { observeBatchStored } from './observe.ts';
import { sliceItems, storeValue } from './bookkeeping.ts';

/** How a batch runs one step: the op runner (passed in, so the op runner and the batch host do not import each other). */
export type RunStep = (definitions: Definitions, task: unknown) => Promise<OpTaskResult>;

/**
 * Mode 'batch': many mapping keys in one activity, run in parallel, with the very interpreter the
 * workflows use — so skip/abandon rules, per-key retries and step keys are identical to the other
 * modes. Steps call the op runner directly instead of scheduling activities.
 */
export async function runBatch(definitions: Definitions, runStep: RunStep, raw: unknown): Promise<BatchResult> {
  const parsed = BatchInput.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`batch input is malformed: ${parsed.error.message}`, FailureType.Definition);
  }
  const input = parsed.data;
  const request = dimensionRequestOf(input);
  const engine = new InProcessEngine(definitions, runStep, input);
  const results: BatchResult['results'] = [];
  await forEachWindowed(input.items, BUDGET.inBatchConcurrency, async (item, index) => {
    const keyed: KeyedScope = {
      key: item.key,
      bindings: { ...input.shared, ...item.bindings },
      prior: item.prior,
      ...(item.priorParts ? { priorParts: item.priorParts } : {}),
      ...(item.reused ? { reused: item.reused } : {}),
      ...(item.reusedParts ? { reusedParts: item.reusedParts } : {}),
    };
    results[index] = await new ScopeInterpreter(childScope(input, request, keyed), engine).run();
  });
  // Many keys' outputs share one activity result: the largest go to the store until the rest fits.
  return { results: await fitBatchResults(results, observeBatchStored(input.plan)) };
}

/** No Temporal limits inside one activity: in-batch concurrency is bounded by the batch loop instead. */
const UNBOUNDED = {
  pendingActivities: Number.POSITIVE_INFINITY,
  pendingChildren: Number.POSITIVE_INFINITY,
  historyEvents: Number.POSITIVE_INFINITY,
};

/** Runs steps as direct calls inside the current activity; nested dimensions run inline too. */
class InProcessEngine implements ScopeEngine {
  readonly budget = new WorkflowBudget(UNBOUNDED);

  constructor(
    private readonly definitions: Definitions,
    private readonly runStep: RunStep,
    private readonly input: BatchInput,
  ) {}

  executeAttempt: ScopeEngine['executeAttempt'] = (_node, task) => this.runStep(this.definitions, task);

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  random(): number {
    return Math.random();
  }

  /** Nothing inside a batch is controllable (no `controls`), so no window ever waits here; polls if asked anyway. */
  async waitUntil(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  runChild(request: DimensionRequest, item: KeyedScope): ReturnType<ScopeEngine['runChild']> {
    return new ScopeInterpreter(childScope(this.input, request, item), this).run();
  }

  async runBatch(request: DimensionRequest, items: readonly KeyedScope[]): ReturnType<ScopeEngine['runBatch']> {
    return Promise.all(items.map((item) => this.runChild(request, item)));
  }

  runShard(request: DimensionRequest, shard: ShardRequest): ReturnType<ScopeEngine['runShard']> {
    const { index: _index, sharing: _sharing, ...slice } = shard;
    return runShardScope(
      {
        kind: 'shard',
        runId: this.input.runId,
        plan: request.plan,
        runConfig: this.input.runConfig,
        dim: [...request.dim],
        outerKeys: [...request.outerKeys],
        source: request.source,
        stage: request.stage,
        ...slice,
      },
      this,
      NO_PROGRESS,
    );
  }

  store(value: unknown): ReturnType<ScopeEngine['store']> {
    return storeValue(value);
  }

  slice(input: SliceInput): ReturnType<ScopeEngine['slice']> {
    return sliceItems(input);
  }

  patched(): boolean {
    return true; // no history to stay compatible with inside an activity
  }

  isCancellation(err: unknown): boolean {
    return err instanceof CancelledFailure;
  }

  errorOf(err: unknown): StepError {
    if (err instanceof ApplicationFailure) {
      const errorClass = thrownClassOf(err);
      return { type: err.type ?? 'Error', message: err.message, ...(errorClass ? { errorClass } : {}) };
    }
    if (err instanceof Error) return { type: err.name, message: err.message };
    return { type: 'Error', message: String(err) };
  }

  fatal(message: string): Error {
    return ApplicationFailure.nonRetryable(message, FailureType.Definition);
  }
}
