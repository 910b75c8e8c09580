/**
 * What one step attempt tells an operator: its span carries the job, step key and mapping key, and
 * opgraph's metrics count it (src/telemetry/metrics.ts), by job and op.
 */
import { type Attributes, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../dsl/constants.ts';
import type { Definitions } from '../dsl/job.ts';
import type { JobPlan, PlanNode, PlanRetryPolicy } from '../dsl/plan.ts';
import type { OpTaskInput, StoredRef } from '../dsl/protocol.ts';
import { mapName } from '../engine/maps.ts';
import { opMetrics } from '../telemetry/metrics.ts';

/** Span attribute names (OpenTelemetry style: namespaced, snake_case). */
export const SPAN_ATTRIBUTES = {
  job: 'opgraph.job',
  node: 'opgraph.node',
  op: 'opgraph.op',
  stepKey: 'opgraph.step_key',
  mappingKey: 'opgraph.mapping_key',
  mappingKeys: 'opgraph.mapping_keys',
  attempt: 'opgraph.attempt',
  runId: 'opgraph.run_id',
} as const;

/** Tells the observer about values the attempt wrote to the store. */
export type OnStored = (ref: StoredRef) => void;

/**
 * Whether the interpreter runs a step again after this failure: the rule of `execute` in
 * src/engine/interpreter.ts (user-code failures, while the op's RetryPolicy has retries left).
 */
export function retriesAfter(failureType: string | undefined, policy: PlanRetryPolicy | null | undefined, attempt: number): boolean {
  return failureType === FailureType.UserError && !!policy && attempt <= policy.maxRetries;
}

function spanAttributes(task: OpTaskInput): Attributes {
  const mappingKey = task.mappingKeys[task.mappingKeys.length - 1];
  return {
    [SPAN_ATTRIBUTES.job]: task.job,
    [SPAN_ATTRIBUTES.node]: task.node,
    [SPAN_ATTRIBUTES.op]: task.op,
    [SPAN_ATTRIBUTES.stepKey]: task.stepKey,
    ...(mappingKey !== undefined ? { [SPAN_ATTRIBUTES.mappingKey]: mappingKey, [SPAN_ATTRIBUTES.mappingKeys]: task.mappingKeys } : {}),
    [SPAN_ATTRIBUTES.attempt]: task.attempt,
    [SPAN_ATTRIBUTES.runId]: task.runId,
  };
}

/**
 * The span of this attempt: the activity's own (`RunActivity:<op>`, opened by the tracing
 * interceptor) when the step is its own activity; a child `RunOp:<op>` span when it runs inside a
 * batch activity with other keys. No-op spans when tracing is off.
 */
async function inStepSpan<T>(task: OpTaskInput, run: (span: Span | undefined) => Promise<T>): Promise<T> {
  const attributes = spanAttributes(task);
  if (Context.current().info.activityType === task.op) {
    const span = trace.getActiveSpan();
    span?.setAttributes(attributes);
    return run(undefined);
  }
  return trace.getTracer('opgraph').startActiveSpan(`RunOp:${task.op}`, { attributes }, async (span) => {
    try {
      return await run(span);
    } finally {
      span.end();
    }
  });
}

function planNode(definitions: Definitions, task: OpTaskInput): PlanNode | undefined {
  return definitions.jobs.get(task.job)?.plan.nodes.find((node) => node.id === task.node);
}

/** Runs one attempt of a step (`attempt` gets a callback for the values it stores) with its span and metrics. */
export async function observeStep<T>(definitions: Definitions, task: OpTaskInput, attempt: (onStored: OnStored) => Promise<T>): Promise<T> {
  const activity = Context.current();
  const metrics = opMetrics(activity.metricMeter);
  const tags = { job: task.job, op: task.op };
  const node = planNode(definitions, task);
  const dim = node?.dim[node.dim.length - 1];
  const mapTags = dim !== undefined && task.mappingKeys.length > 0 ? { ...tags, map: mapName(dim) } : undefined;
  return inStepSpan(task, async (ownSpan) => {
    if (mapTags) metrics.keysInFlight(1, mapTags);
    try {
      const result = await attempt((ref) => metrics.bytesStored(ref.bytes, tags));
      metrics.succeeded(tags);
      return result;
    } catch (err) {
      if (!activity.cancellationSignal.aborted) {
        const type = err instanceof ApplicationFailure ? (err.type ?? undefined) : undefined;
        if (retriesAfter(type, node?.retryPolicy, task.attempt)) metrics.retried(tags);
        else metrics.failed(tags);
      }
      ownSpan?.recordException(err as Error);
      ownSpan?.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      if (mapTags) metrics.keysInFlight(-1, mapTags);
    }
  });
}

/** For a batch's own store writes (results refitted across its keys): bytes by the job and op of each record's node. */
export function observeBatchStored(plan: JobPlan): (ref: StoredRef, node: string) => void {
  const metrics = opMetrics(Context.current().metricMeter);
  const opOf = new Map(plan.nodes.map((node) => [node.id, node.op]));
  return (ref, node) => metrics.bytesStored(ref.bytes, { job: plan.job, op: opOf.get(node) ?? node });
}
