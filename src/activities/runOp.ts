import { ApplicationFailure, Context } from '@temporalio/activity';
import { OpExecutionError, OutputContractError } from '../dsl/errors.ts';
import type { Definitions } from '../dsl/job.ts';
import { PAYLOAD } from '../dsl/limits.ts';
import { formatBytes, jsonProblem, utf8Length } from '../dsl/json.ts';
import type { InputSource } from '../dsl/plan.ts';
import type { OpContext, OpLogger, OpSpec } from '../dsl/op.ts';
import { FailureType, OpTaskInput, type OpTaskResult } from '../dsl/protocol.ts';
import { userPath } from '../dsl/runConfig.ts';
import { materialize } from '../store/store.ts';
import { fitOutputs, offloadOutput } from './fitting.ts';
import { HeartbeatPacer } from './heartbeatPacer.ts';
import { observeStep, retriesAfter, type OnStored } from './observe.ts';
import { issuesText, OutputCollector } from './outputs.ts';
import { resolveStep } from './resolveStep.ts';
import { StepJournalWriter } from './stepJournal.ts';
import { frameText, userFrame } from './userFrame.ts';

/** Runs one step: validates what comes in, runs the op body with auto-heartbeats, validates what goes out. */
export async function runOp(definitions: Definitions, raw: unknown, pacer: HeartbeatPacer = SHARED_PACER): Promise<OpTaskResult> {
  const parsed = OpTaskInput.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`op task input is malformed: ${parsed.error.message}`, FailureType.Definition);
  }
  const task = parsed.data;
  const activity = Context.current();
  // The step's journal (its attempts and ctx.log lines, for `opgraph logs` and the run page).
  const journal = new StepJournalWriter(task, activity);
  try {
    const result = await observeStep(definitions, task, (onStored) => runAttempt(definitions, task, activity, journal, onStored, pacer));
    await journal.finish('succeeded');
    return result;
  } catch (err) {
    if (activity.cancellationSignal.aborted) {
      await journal.finish('cancelled');
    } else {
      const failure = err instanceof ApplicationFailure ? err : undefined;
      const error = { type: failure?.type ?? 'Error', message: failure?.message ?? (err as Error).message, ...errorClassOf(failure) };
      const policy = definitions.jobs.get(task.job)?.plan.nodes.find((n) => n.id === task.node)?.retryPolicy;
      await journal.finish('failed', error, retriesAfter(error.type, policy, task.attempt));
    }
    throw err;
  }
}

function errorClassOf(failure: ApplicationFailure | undefined): { errorClass?: string } {
  const details: unknown = failure?.details?.[0];
  const errorClass = (details as { errorClass?: unknown } | undefined)?.errorClass;
  return typeof errorClass === 'string' ? { errorClass } : {};
}

async function runAttempt(
  definitions: Definitions,
  task: OpTaskInput,
  activity: Context,
  journal: StepJournalWriter,
  onStored: OnStored,
  pacer: HeartbeatPacer,
): Promise<OpTaskResult> {
  const spec = resolveStep(definitions, task);
  const config = parseConfig(spec, task);
  const loaded = await Promise.all(spec.inputs.map((decl) => materialize(task.inputs[decl.name])));
  const args = spec.inputs.map((decl, i) => {
    const value = loaded[i];
    if (!decl.schema) return value;
    const result = decl.schema.safeParse(value);
    if (result.success) return result.data;
    const source = inputSource(definitions, task, decl.name);
    throw validationFailure(
      task,
      `input "${decl.name}" of op "${spec.name}" failed its schema: ${issuesText(result.error.issues)} (received ${preview(value)}${source ? `, from ${source.from}` : ''}). Fix: ${source?.fix ?? 'make the upstream op produce valid values'}, or change the input's schema.`,
    );
  });

  const { ctx, latestDetails } = makeContext(task, config, activity, journal);
  // Heartbeats while user code runs, so a dead worker is noticed within the heartbeat timeout and a
  // cancel reaches ctx.signal (Temporal delivers a cancel only in a heartbeat's answer): src/activities/heartbeatPacer.ts.
  const stopHeartbeats = pacer.start(activity, task.runId, latestDetails);
  try {
    const collector = new OutputCollector(spec, task.stepKey);
    await collector.consume(spec.fn(ctx, ...args));
    const outputs = await fitOutputs(await Promise.all(collector.finish().map((output) => offloadOutput(output, onStored))), onStored);
    // An op that returned after its run was cancelled must not look like a success.
    if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
    return { outputs };
  } catch (err) {
    if (activity.cancellationSignal.aborted) throw activity.cancellationSignal.reason;
    if (err instanceof OutputContractError) throw validationFailure(task, err.message);
    throw opExecutionFailure(opExecutionError(spec, task, err));
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
    `config of op "${spec.name}" failed its schema: ${issuesText(result.error.issues)}. Fix run config ${userPath(task.node)}.config.`,
  );
}

function makeContext(
  task: OpTaskInput,
  opConfig: unknown,
  activity: Context,
  journal: StepJournalWriter,
): { ctx: OpContext<unknown>; latestDetails: () => unknown } {
  let details: unknown;
  const attrs = { stepKey: task.stepKey, job: task.job, runId: task.runId };
  // Each line goes to the worker's log and to the step's journal.
  const log: OpLogger = {
    debug: (message, extra) => {
      activity.log.debug(message, { ...attrs, ...extra });
      journal.log('debug', message, extra);
    },
    info: (message, extra) => {
      activity.log.info(message, { ...attrs, ...extra });
      journal.log('info', message, extra);
    },
    warn: (message, extra) => {
      activity.log.warn(message, { ...attrs, ...extra });
      journal.log('warn', message, extra);
    },
    error: (message, extra) => {
      activity.log.error(message, { ...attrs, ...extra });
      journal.log('error', message, extra);
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
      const problem = heartbeatProblem(next);
      if (problem)
        throw new OutputContractError(`op "${task.op}" (step ${task.stepKey}) called ctx.heartbeat with details that ${problem}`);
      details = next;
      activity.heartbeat(details);
    },
  };
  // Automatic beats repeat the user's latest details so they are not overwritten.
  return { ctx, latestDetails: () => details };
}

/** For runOp calls outside a worker's activities (tests): one pacer for the process. */
const SHARED_PACER = new HeartbeatPacer();

function validationFailure(task: OpTaskInput, message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.Validation,
    nonRetryable: true,
    message: limitText(withStep(task, message), MESSAGE_LIMIT),
  });
}

/**
 * What the op's code threw, wrapped with its step key (the thrown value stays the `cause`), and where:
 * `op "x" raised RangeError (at mine/ops.ts:13:30): …` — the top frame of the user's own code.
 */
function opExecutionError(spec: OpSpec, task: OpTaskInput, err: unknown): OpExecutionError {
  const frame = err instanceof Error ? userFrame(err.stack) : undefined;
  const thrown =
    err instanceof Error
      ? `raised ${err.name}${frame ? ` (at ${frameText(frame)})` : ''}: ${err.message}`
      : `threw a non-Error value: ${preview(err)}. Fix: throw new Error('…') so the message and stack trace are kept`;
  // Bounded: a failure travels in one Temporal payload (and in the run's result), so a huge
  // message must not make the worker's completion too large for the server to accept.
  return new OpExecutionError(task.stepKey, limitText(withStep(task, `op "${spec.name}" ${thrown}`), MESSAGE_LIMIT), { cause: err });
}

/**
 * The failure that crosses Temporal for an OpExecutionError: stable type `OpUserError`, the
 * bounded message, and in `details[0]` what the op threw — `errorName` (its `name`), `errorClass`
 * (its class, e.g. `RangeError`), `location` (the user's top frame, `file:line:column`, or null) and
 * its stack. Its own stack trace is the op's (not this activity's), and its `cause` is the thrown
 * error itself (bounded message and stack), so the Web UI shows the op's own exception under the
 * step's failure.
 */
function opExecutionFailure(error: OpExecutionError): ApplicationFailure {
  const thrown: unknown = error.cause;
  const thrownError = thrown instanceof Error ? thrown : undefined;
  const stack = thrownError?.stack ? limitText(thrownError.stack, STACK_LIMIT) : null;
  const frame = thrownError ? userFrame(thrownError.stack) : undefined;
  const failure = ApplicationFailure.create({
    type: FailureType.UserError,
    // The interpreter retries per the op's RetryPolicy, counted per step key; Temporal must not.
    nonRetryable: true,
    message: error.message,
    details: [
      {
        errorName: thrownError?.name ?? typeof thrown,
        errorClass: error.errorClass ?? typeof thrown,
        location: frame ? frameText(frame) : null,
        stack,
      },
    ],
    cause: thrownError ? thrownFailure(thrownError, error.errorClass ?? thrownError.name, stack) : undefined,
  });
  if (stack) failure.stack = [`${failure.name}: ${failure.message}`, ...stack.split('\n').filter((l) => /^\s+at /.test(l))].join('\n');
  return failure;
}

/** The op's own exception as a bounded failure (its own causes are not carried: their size is unknown). */
function thrownFailure(error: Error, errorClass: string, stack: string | null): ApplicationFailure {
  const failure = ApplicationFailure.create({ type: errorClass, message: limitText(error.message, MESSAGE_LIMIT), nonRetryable: true });
  failure.stack = stack ?? '';
  return failure;
}

function withStep(task: OpTaskInput, message: string): string {
  return `[${task.job} ${task.stepKey}] ${message}`;
}

/** Longest failure message (characters) and stack trace kept; the rest is cut with a note. */
const MESSAGE_LIMIT = PAYLOAD.failureMessage;
const STACK_LIMIT = PAYLOAD.failureStack;

function limitText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const note = ` … [${text.length - limit} more characters cut: the text was ${text.length} characters long]`;
  return text.slice(0, limit) + note;
}

/** A short, readable rendering of any value for an error message. */
function preview(value: unknown): string {
  let text: string;
  try {
    if (value === undefined) text = 'undefined';
    else if (typeof value === 'bigint') text = `${value}n`;
    else if (typeof value === 'function') text = `a function ${value.name || '(anonymous)'}`;
    else text = JSON.stringify(value) ?? Object.prototype.toString.call(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} characters)` : text;
}

/** Where an input's value came from, and what to fix, read from the job's plan when this worker has it. */
function inputSource(definitions: Definitions, task: OpTaskInput, input: string): { from: string; fix: string } | undefined {
  const node = definitions.jobs.get(task.job)?.plan.nodes.find((n) => n.id === task.node);
  const source: InputSource | undefined = node?.inputs.find((i) => i.name === input)?.source;
  switch (source?.kind) {
    case 'output':
      return { from: `output "${source.output}" of node "${source.node}"`, fix: `make op node "${source.node}" produce valid values` };
    case 'item':
      return {
        from: `an item of dynamic output "${source.output}" of node "${source.node}"`,
        fix: `make node "${source.node}" yield valid items`,
      };
    case 'collect':
      return { from: `the collected outputs of node "${source.node}"`, fix: `make node "${source.node}" produce valid values` };
    case 'fanin':
      return {
        from: `the fan-in list of ${source.sources.map((s) => `"${s.node}"`).join(', ')}`,
        fix: 'make those ops produce valid values',
      };
    case 'config':
      return { from: `run config ${userPath(task.node)}.inputs.${input}`, fix: `fix run config ${userPath(task.node)}.inputs.${input}` };
    default:
      return undefined;
  }
}

/** Heartbeat details travel in one Temporal payload (limit 2 MiB): refuse what would not. */
const HEARTBEAT_DETAILS_LIMIT = PAYLOAD.heartbeatDetails;

function heartbeatProblem(details: unknown): string | undefined {
  const notJson = jsonProblem(details, 'details');
  if (notJson) return `cannot travel as JSON: ${notJson}. Fix: pass plain data (a small progress summary)`;
  const bytes = utf8Length(JSON.stringify(details) ?? '');
  if (bytes <= HEARTBEAT_DETAILS_LIMIT) return undefined;
  return `are ${formatBytes(bytes)} of JSON, over the ${formatBytes(HEARTBEAT_DETAILS_LIMIT)} limit for heartbeat details. Fix: heartbeat a small progress summary (e.g. { done: 120, total: 5000 }) and return large data as an output`;
}
