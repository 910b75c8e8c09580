import type { Definitions } from '../dsl/job.ts';
import { BatchInput, type BatchResult, FailureType, type SliceInput } from '../dsl/protocol.ts';
import { ApplicationFailure } from '@temporalio/activity';
import {
  childScope,
  type DimensionRequest,
  dimensionRequestOf,
  type KeyedScope,
  ScopeInterpreter,
  type ScopeEngine,
  type ShardRequest,
} from '../workflows/interpreter.ts';
import { NO_PROGRESS } from '../workflows/progress.ts';
import { runShardScope } from '../workflows/shard.ts';
import { sliceItems, storeValue } from './bookkeeping.ts';
import { forEachWindowed } from '../workflows/window.ts';
import { runOp } from './runOp.ts';

/** How many keys of one batch run at once inside the activity. */
const IN_BATCH_CONCURRENCY = 64;

/**
 * Mode 'batch': many mapping keys in one activity, run in parallel, with the very interpreter the
 * workflows use — so skip/abandon rules, per-key retries and step keys are identical to the other
 * modes. Steps call the op runner directly instead of scheduling activities.
 */
export async function runBatch(definitions: Definitions, raw: unknown): Promise<BatchResult> {
  const parsed = BatchInput.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`batch input is malformed: ${parsed.error.message}`, FailureType.Definition);
  }
  const input = parsed.data;
  const request = dimensionRequestOf(input);
  const engine = new InProcessEngine(definitions, input);
  const results: BatchResult['results'] = [];
  await forEachWindowed(input.items, IN_BATCH_CONCURRENCY, async (item, index) => {
    results[index] = await new ScopeInterpreter(childScope(input, request, item), engine).run();
  });
  return { results };
}

/** Runs steps as direct calls inside the current activity; nested dimensions run inline too. */
class InProcessEngine implements ScopeEngine {
  constructor(
    private readonly definitions: Definitions,
    private readonly input: BatchInput,
  ) {}

  executeAttempt: ScopeEngine['executeAttempt'] = (_node, task) => runOp(this.definitions, task);

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  random(): number {
    return Math.random();
  }

  runChild(request: DimensionRequest, item: KeyedScope): ReturnType<ScopeEngine['runChild']> {
    return new ScopeInterpreter(childScope(this.input, request, item), this).run();
  }

  async runBatch(request: DimensionRequest, items: readonly KeyedScope[]): ReturnType<ScopeEngine['runBatch']> {
    return Promise.all(items.map((item) => this.runChild(request, item)));
  }

  runShard(request: DimensionRequest, shard: ShardRequest): ReturnType<ScopeEngine['runShard']> {
    const { index: _index, ...slice } = shard;
    return runShardScope(
      { kind: 'shard', runId: this.input.runId, plan: request.plan, runConfig: this.input.runConfig, dim: [...request.dim], outerKeys: [...request.outerKeys], source: request.source, stage: request.stage, ...slice },
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
}
