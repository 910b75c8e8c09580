import {
  ActivityCancellationType,
  ApplicationFailure,
  condition,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowBudget } from '../engine/budget.ts';
import { type ControlFeed, dimensionsInChild, MapControls, type MapControlState, shardFeed } from '../engine/control.ts';
import { failedScope, keyNodes, stageNodes } from '../engine/geometry.ts';
import type { WaitingFailures } from '../engine/redrive.ts';
import { WORKFLOW_BUDGET_PATCH } from '../engine/sharding.ts';
import type { DimensionRequest, KeyedScope, ScopeEngine, ShardRequest } from '../engine/types.ts';
import { ControlForwarder } from './control.ts';
import { errorOf, scopeResultOf } from './failures.ts';
import { shortenId, stepKey } from '../dsl/keys.ts';
import { TEMPORAL } from '../dsl/limits.ts';
import type { JobPlan, PlanNode } from '../dsl/plan.ts';
import { defineSearchAttributeKey, type SearchAttributePair, SearchAttributeType } from '@temporalio/common';
import { BATCH_ACTIVITY, FailureType, NON_RETRYABLE_TYPES, SEARCH_ATTRIBUTES, SLICE_ACTIVITY, STORE_ACTIVITY } from '../dsl/constants.ts';
import type {
  Binding,
  BatchInput,
  OpTaskInput,
  OpTaskResult,
  ScopeResult,
  ScopeWorkflowInput,
  ShardResult,
  ShardWorkflowInput,
  SliceInput,
  SliceResult,
  StepError,
  StoredRef,
} from '../dsl/protocol.ts';
import { batchResultOf, opTaskResultOf, scopeResultOf as parseScopeResult, shardResultOf, sliceResultOf, storedRefOf } from './guards.ts';
import type { ResolvedRunConfig } from '../dsl/runConfig.ts';

/**
 * What happens to a child when its parent closes. Runs started before this patch terminate their
 * children; newer runs request cancellation, so a child that was still starting when the run was
 * cancelled ends CANCELLED (and its ops see ctx.signal) instead of being terminated.
 */
function childClosePolicy(): ParentClosePolicy {
  return patched('opgraph-children-request-cancel') ? ParentClosePolicy.REQUEST_CANCEL : ParentClosePolicy.TERMINATE;
}

/** Only the run config of the nodes a child runs: every child's input lands in its parent's history. */
function configFor(plan: JobPlan, runConfig: ResolvedRunConfig): ResolvedRunConfig {
  const picked: ResolvedRunConfig = {};
  for (const node of plan.nodes) {
    const config = runConfig[node.id];
    if (config) picked[node.id] = config;
  }
  return picked;
}

/**
 * Runs a child workflow `<this workflow id>/<name>`; stage 0 keeps the plain id, later waves of a
 * dimension split at a barrier get `/stage_<n>` (ids and summaries are part of replayed history).
 */
function childWorkflowId(name: string, stage: number, drive?: number): string {
  return boundedId(`${workflowInfo().workflowId}/${name}${stage > 0 ? `/stage_${stage + 1}` : ''}${redriveSuffix(drive)}`);
}

/** A redriven key or shard runs again as a new child (or batch activity): `/redrive_<n>` names its n-th redrive. */
function redriveSuffix(drive: number | undefined): string {
  return drive ? `/redrive_${drive}` : '';
}

/**
 * Child and activity ids within the 255 characters SQL-backed servers allow (long mapping keys,
 * nested scopes). Ids that fit are unchanged; longer ones were accepted only by the dev server (up
 * to 1,000) before this, so those runs keep their full ids on replay.
 */
function boundedId(id: string): string {
  if (id.length <= TEMPORAL.maxIdLength || !patched('opgraph-bounded-ids')) return id;
  return shortenId(id, TEMPORAL.maxIdLength);
}

function startChild(
  type: string,
  name: string,
  stage: number,
  summary: string,
  input: unknown,
  tags: SearchAttributePair[],
  drive?: number,
): Promise<unknown> {
  const later = stage > 0;
  return executeChild(type, {
    ...(tags.length > 0 ? { typedSearchAttributes: tags } : {}),
    workflowId: childWorkflowId(name, stage, drive),
    args: [input],
    staticSummary: `${summary}${later ? ` · stage ${stage + 1}` : ''}${drive ? ` · redrive ${drive}` : ''}`,
    parentClosePolicy: childClosePolicy(),
  });
}

/** The dimension's own binding (the key's item) is per key; every other binding is the same for all keys of a batch. */
function dimensionOf(request: DimensionRequest): string {
  return request.dim[request.dim.length - 1] ?? '';
}

function sharedBindings(items: readonly KeyedScope[], request: DimensionRequest): Record<string, Binding> {
  const { [dimensionOf(request)]: _own, ...shared } = items[0]?.bindings ?? {};
  return shared;
}

function ownBindings(item: KeyedScope, request: DimensionRequest): Record<string, Binding> {
  const dim = dimensionOf(request);
  const own = item.bindings[dim];
  return own ? { [dim]: own } : {};
}

/** Infrastructure failures (lost worker, timeouts) retry forever: that is the durability promise. */
const INFRASTRUCTURE_RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES],
};

/**
 * The interpreter's engine inside a Temporal workflow: ops as activities, keys as children.
 *
 * DETERMINISM: runs in flight replay against this code. Any change to the commands it issues —
 * activity or child ids, types, order, options such as retry or cancellation type, which
 * bookkeeping activities run — must be gated with `patched('<change-id>')` from
 * @temporalio/workflow, keeping the old behaviour for histories without the marker.
 * test/replay/replay.test.ts replays committed histories to catch an ungated change.
 */
export class TemporalEngine implements ScopeEngine {
  /** One budget per workflow execution; runs recorded before it replay without it (see WorkflowBudget). */
  readonly budget = new WorkflowBudget(undefined, () => patched(WORKFLOW_BUDGET_PATCH));
  /** Maps paused or resized: given at start (a child's or shard's input) or by updates / forwarded signals since. */
  readonly controls: MapControls;
  /** A job with onStepFailure 'wait': where its failed units wait for a redrive (set by the job workflow). */
  failures?: WaitingFailures;
  /** Tells the child and shard workflows running a controlled map's keys (only ever sends once a map is controlled). */
  private readonly forwarder = new ControlForwarder(this.budget);

  constructor(
    private readonly runId: string,
    private readonly runConfig: ResolvedRunConfig,
    /** The server has opgraph's search attributes: tag children with job, run, step and mapping key. */
    private readonly searchAttributes = false,
    controls?: MapControlState,
  ) {
    this.controls = new MapControls(controls);
  }

  /** A paused or shrunk window's lanes wait here; uncontrolled windows never call it. */
  waitUntil(ready: () => boolean): Promise<void> {
    return condition(ready);
  }

  /**
   * Runs a child or shard (`run`), telling it of later changes of its maps' controls while it runs.
   * Returns `run`'s own promise (the follow ends on a side branch): no extra ticks, so the workflow
   * issues its commands in the order it did before controls existed.
   */
  private followed<T>(workflowId: string, feed: ControlFeed, run: () => Promise<T>): Promise<T> {
    this.forwarder.follow(workflowId);
    const stop = feed.follow((dim, control) => this.forwarder.send(workflowId, dim, control));
    const end = () => {
      stop();
      this.forwarder.forget(workflowId);
    };
    let settled: Promise<T>;
    try {
      settled = run();
    } catch (err) {
      end();
      throw err;
    }
    settled.then(end, end);
    return settled;
  }

  async executeAttempt(node: PlanNode, task: OpTaskInput): Promise<OpTaskResult> {
    const activities = proxyActivities<Record<string, (input: OpTaskInput) => Promise<unknown>>>({
      activityId: boundedId(task.stepKey),
      summary: task.stepKey,
      startToCloseTimeout: node.timeouts.startToCloseMs,
      heartbeatTimeout: node.timeouts.heartbeatMs,
      // On cancel, wait for the op to see ctx.signal and clean up before the run ends CANCELED.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: INFRASTRUCTURE_RETRY,
    });
    const runOp = activities[node.op];
    if (!runOp) throw ApplicationFailure.nonRetryable(`no activity proxy for op "${node.op}"`, FailureType.Definition);
    return opTaskResultOf(await runOp(task));
  }

  sleep(ms: number): Promise<void> {
    return sleep(ms);
  }

  random(): number {
    return Math.random(); // the workflow's seeded PRNG: replays give the same numbers
  }

  async runChild(request: DimensionRequest, item: KeyedScope): Promise<ScopeResult> {
    const keys = [...request.outerKeys, item.key];
    const itemKey = stepKey(this.fanOutName(request), keys);
    const stage = request.stage;
    const feed = this.controls.feed(dimensionsInChild(request));
    const input: ScopeWorkflowInput = {
      kind: 'scope',
      runId: this.runId,
      searchAttributes: this.searchAttributes,
      plan: request.plan,
      runConfig: configFor(request.plan, this.runConfig),
      dim: [...request.dim],
      keys,
      bindings: item.bindings,
      stage,
      prior: item.prior,
      ...(item.priorParts ? { priorParts: item.priorParts } : {}),
      ...(item.reused ? { reused: item.reused } : {}),
      ...(item.reusedParts ? { reusedParts: item.reusedParts } : {}),
      ...(feed.initial ? { controls: feed.initial } : {}),
    };
    try {
      const raw = await this.followed(childWorkflowId(itemKey, stage, item.drive), feed, () =>
        startChild(
          `${request.plan.job}/${request.source.node}[*]`,
          itemKey,
          stage,
          `${request.plan.job} · ${itemKey} · mapping key ${keys.join(',')}`,
          input,
          this.tags(request.plan.job, itemKey, keys.join(',')),
          item.drive,
        ),
      );
      return parseScopeResult(raw);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return scopeResultOf(err) ?? failedScope(request, item.key, errorOf(err));
    }
  }

  async runBatch(request: DimensionRequest, items: readonly KeyedScope[], batchIndex: number): Promise<ScopeResult[]> {
    const nodes = stageNodes(request.plan.nodes, request.dim, request.stage);
    const first = items[0]?.key ?? '';
    const last = items[items.length - 1]?.key ?? '';
    const id = `${stepKey(this.fanOutName(request), request.outerKeys)}[batch_${batchIndex}:${first}..${last}]${redriveSuffix(items[0]?.drive)}`;
    const activities = proxyActivities<Record<string, (input: BatchInput) => Promise<unknown>>>({
      activityId: boundedId(id),
      summary: `${items.length} keys of ${request.source.node} (${first} … ${last})`,
      // A batch runs several steps per key: give it the longest of its steps' limits.
      startToCloseTimeout: Math.max(...nodes.map((n) => n.timeouts.startToCloseMs), 60_000) * Math.max(1, nodes.length),
      heartbeatTimeout: Math.min(...nodes.map((n) => n.timeouts.heartbeatMs), 30_000),
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: INFRASTRUCTURE_RETRY,
    });
    const input: BatchInput = {
      runId: this.runId,
      plan: request.plan,
      runConfig: configFor(request.plan, this.runConfig),
      dim: [...request.dim],
      outerKeys: [...request.outerKeys],
      source: request.source,
      stage: request.stage,
      // The bindings every key shares travel once; each item carries only its own (its key's item).
      shared: sharedBindings(items, request),
      items: items.map((i) => ({
        key: i.key,
        bindings: ownBindings(i, request),
        prior: i.prior,
        ...(i.priorParts ? { priorParts: i.priorParts } : {}),
        ...(i.reused ? { reused: i.reused } : {}),
        ...(i.reusedParts ? { reusedParts: i.reusedParts } : {}),
      })),
    };
    try {
      const raw = await activities[BATCH_ACTIVITY]?.(input);
      return batchResultOf(raw).results;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const error = errorOf(err);
      return items.map((item) => failedScope(request, item.key, error));
    }
  }

  async runShard(request: DimensionRequest, shard: ShardRequest): Promise<ShardResult> {
    const fanOutKey = stepKey(this.fanOutName(request), request.outerKeys);
    const stage = request.stage;
    const feed = shardFeed(this.controls, request, shard.sharing);
    const input: ShardWorkflowInput = {
      kind: 'shard',
      runId: this.runId,
      searchAttributes: this.searchAttributes,
      plan: request.plan,
      runConfig: configFor(request.plan, this.runConfig),
      dim: [...request.dim],
      outerKeys: [...request.outerKeys],
      source: request.source,
      stage,
      start: shard.start,
      end: shard.end,
      items: shard.items,
      bindings: shard.bindings,
      priorParts: shard.priorParts,
      priorNodes: shard.priorNodes,
      ...(shard.reusedParts ? { reusedParts: shard.reusedParts } : {}),
      ...(feed.initial ? { controls: feed.initial } : {}),
    };
    const label = `shard_${shard.index}`;
    try {
      const summary = `${request.plan.job} · ${fanOutKey} · keys ${shard.start}–${shard.end - 1} (${label})`;
      const raw = await this.followed(childWorkflowId(`${fanOutKey}[${label}]`, stage, shard.drive), feed, () =>
        startChild(
          `${request.plan.job}/${request.source.node}[shard]`,
          `${fanOutKey}[${label}]`,
          stage,
          summary,
          input,
          this.tags(request.plan.job, `${fanOutKey}[${label}]`, request.outerKeys.join(',')),
          shard.drive,
        ),
      );
      return shardResultOf(raw);
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The shard ended without reporting: every key of its slice counts as failed.
      const error = errorOf(err);
      const keys = shard.end - shard.start;
      const nodes = Object.fromEntries(keyNodes(request).map((n) => [n.id, { statuses: { FAILURE: keys }, produced: {} }]));
      const tolerated = request.plan.dimensions?.[dimensionOf(request)]?.toleratedFailures !== undefined;
      return {
        parts: [],
        keys,
        nodes,
        failures: [{ stepKey: `${fanOutKey}[${label}]`, error }],
        ...(tolerated ? { failedKeys: keys } : {}),
      };
    }
  }

  async store(value: unknown): Promise<StoredRef> {
    return storedRefOf(await this.utility(STORE_ACTIVITY, 'store results')(value));
  }

  async slice(input: SliceInput): Promise<SliceResult> {
    return sliceResultOf(await this.utility(SLICE_ACTIVITY, `load keys ${input.start}–${input.end - 1}`)(input));
  }

  private tags(job: string, stepKey: string, mappingKey: string): SearchAttributePair[] {
    if (!this.searchAttributes) return [];
    return [
      { key: defineSearchAttributeKey(SEARCH_ATTRIBUTES.job, SearchAttributeType.KEYWORD), value: job },
      { key: defineSearchAttributeKey(SEARCH_ATTRIBUTES.runId, SearchAttributeType.KEYWORD), value: this.runId },
      { key: defineSearchAttributeKey(SEARCH_ATTRIBUTES.stepKey, SearchAttributeType.KEYWORD), value: stepKey },
      { key: defineSearchAttributeKey(SEARCH_ATTRIBUTES.mappingKey, SearchAttributeType.KEYWORD), value: mappingKey },
    ];
  }

  patched(id: string): boolean {
    return patched(id);
  }

  /**
   * What names a dimension in the ids of its children, batches and shards: the fan-out op, plus
   * the output when it is not `result` — an op with two DynamicOuts may repeat mapping keys across
   * them (Dagster allows it), and their ids must not collide. Runs started before keep op-only ids.
   */
  private fanOutName(request: DimensionRequest): string {
    const { node, output } = request.source;
    if (output === 'result' || !patched('opgraph-output-in-ids')) return node;
    return `${node}:${output}`;
  }

  isCancellation(err: unknown): boolean {
    return isCancellation(err);
  }

  errorOf(err: unknown): StepError {
    return errorOf(err);
  }

  fatal(message: string): Error {
    return ApplicationFailure.nonRetryable(message, FailureType.Definition);
  }

  /** opgraph's own bookkeeping activities: short, retried like any infrastructure call. */
  private utility(type: string, summary: string): (input: unknown) => Promise<unknown> {
    const activities = proxyActivities<Record<string, (input: unknown) => Promise<unknown>>>({
      summary,
      startToCloseTimeout: '5m',
      retry: INFRASTRUCTURE_RETRY,
    });
    const run = activities[type];
    if (!run) throw ApplicationFailure.nonRetryable(`no activity proxy for ${type}`, FailureType.Definition);
    return run;
  }
}
