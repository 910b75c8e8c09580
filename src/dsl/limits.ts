/**
 * Every limit opgraph keeps, in one place, next to the Temporal limit it protects
 * (reference/temporal.md §1; server v1.29.1). Sizes are UTF-8 bytes of JSON. No zod and no Node
 * APIs: the workflow bundle, the engine, the op runner and definition-time checks all read these.
 */

import type { PlanNode } from './plan.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Temporal's own limits (defaults of the server's dynamic config). */
export const TEMPORAL = {
  /** `limit.blobSize.error`: one payload over this terminates the workflow that issued it. */
  payloadError: 2 * MiB,
  /** `limit.blobSize.warn`: the SDK warns (TMPRL1103) at this size. */
  payloadWarn: 512 * KiB,
  /** gRPC's default message size: every command of one workflow-task completion together. */
  taskCompletion: 4 * MiB,
  /** `limit.numPendingActivities.error` / `limit.numPendingChildExecutions.error`. */
  pendingActivities: 2000,
  pendingChildren: 2000,
  /** `limit.maxIDLength` of SQL-backed servers (ids live in VARCHAR(255)); the dev server allows 1,000. */
  maxIdLength: 255,
  /** `limit.historyCount.warn`: the event count we keep every history under. */
  historyEventsWarn: 10_240,
  /** `limit.historyCount.error`: the server terminates a workflow here. */
  historyEventsError: 51_200,
} as const;

/**
 * Payload budget: what one value, one activity input or result, one child input or result may
 * carry inline. Everything larger goes to the store and travels as a reference.
 */
export const PAYLOAD = {
  /** Default size above which a value travels as a store reference (`OPGRAPH_STORE_THRESHOLD` overrides it). */
  storeThreshold: 128 * KiB,
  /** An activity's inputs together (a collect or fan-in of many inline values): stays well under the 512 KiB warning. */
  activityInput: 256 * KiB,
  /** An op's outputs together: the step's record also lands in its scope's result. */
  opResult: 256 * KiB,
  /** A fan-out's `[key, value]` list returned inline; larger lists are stored whole (and the dimension shards). */
  fanOutItems: 384 * KiB,
  /** A batch's results together (one activity result); larger item outputs are stored largest first. */
  batchResult: 384 * KiB,
  /** A batch's input (shared bindings once, then per-key values). */
  batchInput: 384 * KiB,
  /** A child scope's result: it lands in the parent's history, once per key. */
  childResult: 16 * KiB,
  /** The job's result, read by the client. */
  jobResult: 384 * KiB,
  /** One stored chunk of a list or of step records: a chunk is loaded back in one piece. */
  chunk: 384 * KiB,
  /** A shard's items are sliced with values above this size as references, so a slice fits one payload. */
  sliceValue: 1 * KiB,
  /** Ignore outputs smaller than this when choosing what to store: storing them saves too little. */
  smallestStored: 1 * KiB,
  /**
   * Inputs of the commands one workflow has pending at once (children, activities): every command of
   * one workflow-task completion is among them, so together they stay under the 4 MiB gRPC limit.
   */
  pendingInputs: 3 * MiB,
  /** Values a map's keys all receive (shared bindings), times its keys: above this each is stored once. */
  sharedPerDimension: 1 * MiB,
  /** Heartbeat details (one payload). */
  heartbeatDetails: 256 * KiB,
  /** Run config travels in the run's input. */
  runConfig: 128 * KiB,
  /** Failure messages and stack traces, cut beyond these (characters). */
  failureMessage: 8 * KiB,
  failureStack: 16 * KiB,
} as const;

/**
 * Workflow budget: one per workflow (job, mapped scope, shard), shared by every step and map in it
 * (src/engine/budget.ts). Far inside Temporal's limits above.
 */
export const BUDGET = {
  /** Pending activities of one workflow at once (Temporal: 2,000). */
  pendingActivities: 1000,
  /** Pending child workflows of one workflow at once (Temporal: 2,000). */
  pendingChildren: 1000,
  /** Projected history events of one workflow, retries included; leaves room under the 10,240 warning. */
  historyEvents: 8000,
  /** Default window of one map (a share of the budget). */
  defaultMapConcurrency: 500,
  /** Default keys per batch activity. */
  defaultBatchSize: 100,
  /** Largest `batchSize`: a batch's keys share one activity's input and result. */
  maxBatchSize: 1000,
  /** Keys of one batch that run at once inside the activity. */
  inBatchConcurrency: 64,
} as const;

/**
 * History events one command costs the workflow that issues it, at worst (each completion may
 * take its own workflow task of 3 events). Used to project a workflow's history before it runs.
 */
export const EVENTS = {
  /** Scheduled, Started, Completed + a workflow task. */
  activity: 6,
  /** A user retry: a durable timer (Started, Fired) + a workflow task, then the attempt's activity. */
  retry: 5 + 6,
  /** Initiated, Started, Completed + two workflow tasks. */
  child: 9,
  /** A workflow's own start, first task, completion and patch markers. */
  workflowOverhead: 12,
  /** A shard as seen by its parent: a child, plus the store/slice bookkeeping around it. */
  shard: 9 + 6,
  /** A signal to another workflow (a forwarded map control): Initiated, Signaled + a workflow task. */
  signal: 5,
  /** An accepted update (a map control): Accepted, Completed + a workflow task. */
  update: 5,
} as const;

/** Room one workflow's history leaves for keys, after its own start, the slice it loads and the records it stores. */
export const KEY_EVENT_ROOM = BUDGET.historyEvents - EVENTS.workflowOverhead - 40 * EVENTS.activity;

/**
 * Largest `shardSize` a map may ask for: what one shard workflow's history holds in that mode
 * (activity mode is capped further at run time by its steps and retries).
 */
export function maxShardSize(mode: 'child' | 'activity' | 'batch', batchSize: number = BUDGET.defaultBatchSize): number {
  switch (mode) {
    case 'child':
      return Math.floor(KEY_EVENT_ROOM / EVENTS.child);
    case 'activity':
      return Math.floor(KEY_EVENT_ROOM / EVENTS.activity);
    case 'batch':
      return Math.floor((KEY_EVENT_ROOM / EVENTS.activity) * batchSize);
  }
}

/** Upper bounds of `.map()` options, checked when `job()` runs. */
export const MAP_OPTION_BOUNDS = {
  /** A map's window is a share of its workflow's budget, never a way past it. */
  maxConcurrency: Math.min(BUDGET.pendingActivities, BUDGET.pendingChildren),
  batchSize: BUDGET.maxBatchSize,
} as const;

/** History events one step costs the workflow that runs it, its user retries included. */
export function stepEvents(node: Pick<PlanNode, 'retryPolicy'>): number {
  return EVENTS.activity + (node.retryPolicy?.maxRetries ?? 0) * EVENTS.retry;
}
