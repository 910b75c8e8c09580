import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Definitions } from '../dsl/job.ts';
import type { OpContext, OpLogger, OpSpec } from '../dsl/op.ts';
import { BATCH_ACTIVITY, FailureType, OpTaskInput, type OpTaskResult, SLICE_ACTIVITY, STORE_ACTIVITY } from '../dsl/protocol.ts';
import { sliceItems, storeValue } from './bookkeeping.ts';
import { runBatch } from './batch.ts';
import { getDefaultStore, materialize, offload } from '../store/store.ts';
import type { TaskOutput } from '../dsl/protocol.ts';
import { OutputCollector, OutputContractError } from './outputs.ts';

/** The activities a worker registers: one handler, `default`, runs every op (activity type = op name). */
export function createOpActivities(definitions: Definitions): Record<string, (input: unknown) => Promise<unknown>> {
  return {
    default: (input: unknown) => runOp(definitions, input),
    [BATCH_ACTIVITY]: (input: unknown) => runBatch(definitions, input),
    [STORE_ACTIVITY]: storeValue,
    [SLICE_ACTIVITY]: sliceItems,
  };
}

/** Runs one step: validates what comes in, runs the op body with auto-heartbeats, validates what goes out. */
export async function runOp(definitions: Definitions, raw: unknown): Promise<OpTaskResult> {
  const parsed = OpTaskInput.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`op task input is malformed: ${parsed.error.message}`, FailureType.Definition);
  }
  const task = parsed.data;
  const spec = definitions.ops.get(task.op);
  if (!spec) {
    throw ApplicationFailure.nonRetryable(
      `this worker does not know op "${task.op}" (step ${task.stepKey} of job "${task.job}"); known ops: ${[...definitions.ops.keys()].join(', ')}. Start the worker with Definitions that include job "${task.job}".`,
      FailureType.Definition,
    );
  }
  const config = parseConfig(spec, task);
  const loaded = await Promise.all(spec.inputs.map((decl) => materialize(task.inputs[decl.name])));
  const args = spec.inputs.map((decl, i) => {
    const value = loaded[i];
    if (!decl.schema) return value;
    const result = decl.schema.safeParse(value);
    if (result.success) return result.data;
    throw validationFailure(
      task,
      `input "${decl.name}" of op "${spec.name}" failed its schema: ${issuesText(result.error.issues)}. Fix the upstream op or the input's schema.`,
    );
  });

  const activity = Context.current();
  const { ctx, latestDetails } = makeContext(task, config, activity);
  const stopHeartbeats = autoHeartbeat(activity, latestDetails);
  try {
    const collector = new OutputCollector(spec, task.stepKey);
    await collector.consume(spec.fn(ctx, ...args));
    const outputs = await Promise.all(collector.finish().map(offloadOutput));
    // An op that returned after its run was cancelled must not look like a success.
    if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
    return { outputs };
  } catch (err) {
    if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
    if (err instanceof OutputContractError) throw validationFailure(task, err.message);
    throw userFailure(spec, task, err);
  } finally {
    stopHeartbeats();
  }
}

function parseConfig(spec: OpSpec, task: OpTaskInput): unknown {
  if (!spec.configSchema) return task.config;
  const result = spec.configSchema.safeParse(task.config);
  if (result.success) return result.data;
  throw validationFailure(
    task,
    `config of op "${spec.name}" failed its schema: ${issuesText(result.error.issues)}. Fix run config ops.${task.node}.config.`,
  );
}

function makeContext(
  task: OpTaskInput,
  opConfig: unknown,
  activity: Context,
): { ctx: OpContext<unknown>; latestDetails: () => unknown } {
  let details: unknown;
  const attrs = { stepKey: task.stepKey, job: task.job, runId: task.runId };
  const log: OpLogger = {
    debug: (message, extra) => {
      activity.log.debug(message, { ...attrs, ...extra });
    },
    info: (message, extra) => {
      activity.log.info(message, { ...attrs, ...extra });
    },
    warn: (message, extra) => {
      activity.log.warn(message, { ...attrs, ...extra });
    },
    error: (message, extra) => {
      activity.log.error(message, { ...attrs, ...extra });
    },
  };
  const ctx: OpContext<unknown> = {
    log,
    opConfig,
    runId: task.runId,
    jobName: task.job,
    stepKey: task.stepKey,
    mappingKeys: task.mappingKeys,
    getMappingKey: () => task.mappingKeys[task.mappingKeys.length - 1],
    attempt: task.attempt,
    signal: activity.cancellationSignal,
    heartbeat: (next?: unknown) => {
      details = next;
      activity.heartbeat(details);
    },
  };
  // Automatic beats repeat the user's latest details so they are not overwritten.
  return { ctx, latestDetails: () => details };
}

/** Heartbeats while user code runs, so a dead worker is noticed within the heartbeat timeout. */
function autoHeartbeat(activity: Context, latestDetails: () => unknown): () => void {
  const timeoutMs = activity.info.heartbeatTimeoutMs ?? 30_000;
  const interval = Math.max(50, Math.min(timeoutMs / 4, 5_000));
  const timer = setInterval(() => activity.heartbeat(latestDetails()), interval);
  timer.unref();
  return () => clearInterval(timer);
}

function validationFailure(task: OpTaskInput, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.Validation, nonRetryable: true, message: withStep(task, message) });
}

function userFailure(spec: OpSpec, task: OpTaskInput, err: unknown): ApplicationFailure {
  const error = err instanceof Error ? err : undefined;
  const thrown = error ? `${error.name}: ${error.message}` : `a non-Error value was thrown: ${safeString(err)}`;
  return ApplicationFailure.create({
    type: FailureType.UserError,
    // The interpreter retries per the op's RetryPolicy, counted per step key; Temporal must not.
    nonRetryable: true,
    message: withStep(task, `op "${spec.name}" raised ${thrown}`),
    details: [{ errorName: error?.name ?? typeof err, stack: error?.stack ?? null }],
  });
}

function withStep(task: OpTaskInput, message: string): string {
  return `[${task.job} ${task.stepKey}] ${message}`;
}

function issuesText(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join('.') || '(value)'}: ${i.message}`).join('; ');
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Large values go to the store; the workflow only ever sees references. */
async function offloadOutput(output: TaskOutput): Promise<TaskOutput> {
  if ('value' in output) return { name: output.name, value: await offload(output.value) };
  if (!('items' in output)) return output;
  const items = await Promise.all(output.items.map(async ([key, value]) => [key, await offload(value)] as [string, unknown]));
  // A fan-out list too big for one Temporal payload goes to the store whole; the interpreter shards it.
  const json = JSON.stringify(items);
  if (json.length > ITEMS_INLINE_LIMIT) return { name: output.name, itemsRef: await getDefaultStore().put(json), count: items.length };
  return { name: output.name, items };
}

/** Above this many characters a fan-out's item list is stored rather than returned inline. */
const ITEMS_INLINE_LIMIT = 512 * 1024;
