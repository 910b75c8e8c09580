/**
 * Names shared by the interpreter and the op runner. No zod here: the workflow bundle imports
 * this module, and every module it loads is evaluated again for each workflow execution.
 */

/** Failure types: stable `ApplicationFailure.type` values. */
export const FailureType = {
  /** The op's own code threw. Retried per the op's RetryPolicy by the interpreter. */
  UserError: 'OpUserError',
  /** Outputs or inputs broke the op's contract (keys, schemas, JSON). Never retried. */
  Validation: 'OpValidationError',
  /** The worker does not know the op, or the task input is malformed. Never retried. */
  Definition: 'OpDefinitionError',
  /** A mapped-scope workflow had failed steps; details carry its ScopeResult. */
  ScopeFailed: 'OpgraphScopeFailed',
  /** A job workflow had failed steps; details carry its ScopeResult. */
  RunFailed: 'OpgraphRunFailed',
} as const;

/**
 * The class of what an op threw (`RangeError`, a user's `QuotaExceeded`, `string` for a thrown
 * string), as an `OpUserError` failure carries it (src/activities/runOp.ts): `details[0].errorClass`,
 * else the type of its `cause` (the thrown error itself). Undefined for other failure types and for
 * failures recorded before either existed (then step records stay as they were, for replay).
 */
export function thrownClassOf(failure: {
  readonly type?: string | null;
  readonly details?: unknown;
  readonly cause?: unknown;
}): string | undefined {
  if (failure.type !== FailureType.UserError) return undefined;
  const first: unknown = Array.isArray(failure.details) ? failure.details[0] : undefined;
  const fromDetails = typeof first === 'object' && first !== null ? (first as { errorClass?: unknown }).errorClass : undefined;
  if (typeof fromDetails === 'string' && fromDetails !== '') return fromDetails;
  const cause = failure.cause;
  const fromCause = typeof cause === 'object' && cause !== null ? (cause as { type?: unknown }).type : undefined;
  return typeof fromCause === 'string' && fromCause !== '' ? fromCause : undefined;
}

export const NON_RETRYABLE_TYPES: readonly string[] = [FailureType.UserError, FailureType.Validation, FailureType.Definition];

/** The activity type of a batch of mapping keys (mode 'batch'); op names may not start with `__opgraph`. */
export const BATCH_ACTIVITY = '__opgraph_batch';
/** Stores a JSON value and returns its reference (used by workflows, which cannot write files). */
export const STORE_ACTIVITY = '__opgraph_store';
/** Loads a slice of a stored fan-out (and earlier-stage records) for a shard. */
export const SLICE_ACTIVITY = '__opgraph_slice';

/**
 * Search attributes (Keyword) that let the Web UI and `temporal workflow list` filter a run's
 * workflows: `OpgraphRunId = '<run id>' AND OpgraphStepKey = 'load_pieces[7]'`. Registered on the
 * dev servers opgraph starts; used on any server where they are registered.
 */
export const SEARCH_ATTRIBUTES = {
  job: 'OpgraphJob',
  runId: 'OpgraphRunId',
  stepKey: 'OpgraphStepKey',
  mappingKey: 'OpgraphMappingKey',
  /** On a re-execution: the workflow id of the run it re-executes. */
  parentRun: 'OpgraphParentRun',
} as const;

/** Resolves a job's plan on a worker, for runs started by job name alone (Temporal CLI / Web UI). */
export const RESOLVE_PLAN_ACTIVITY = '__opgraph_resolve_plan';

/**
 * Live control of a running map: updates on the job workflow (validated there) and the signal that
 * forwards a change to the child and shard workflows running some of the map's keys.
 */
export const MAP_CONTROL = {
  pause: 'opgraph.pauseMap',
  resume: 'opgraph.resumeMap',
  resize: 'opgraph.resizeMap',
  forward: 'opgraph.mapControl',
} as const;

/** Redrive in place (a job's `onStepFailure: 'wait'`): updates on the job workflow. */
export const REDRIVE = {
  redrive: 'opgraph.redrive',
  giveUp: 'opgraph.giveUp',
  /** Failure type of a refused redrive or give-up. */
  refused: 'OpgraphRedriveRefused',
} as const;

/** What `opgraph redrive` asks: the failed steps to run again (`op[key]`, or `op` for all of an op's); none = all waiting. */
export interface RedriveRequest {
  readonly stepKeys?: readonly string[];
}

/** What a redrive or give-up answers. */
export interface RedriveReport {
  readonly action: 'redrive' | 'give-up';
  /** The failed step keys it concerned (those listed by their units). */
  readonly stepKeys: string[];
  /** Failed steps still waiting after it. */
  readonly stillWaiting: number;
}
