/** How Temporal's failures map to step errors and scope results (the Temporal host's side of ScopeEngine). */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TimeoutFailure } from '@temporalio/workflow';
import { FailureType, thrownClassOf } from '../dsl/constants.ts';
import type { ScopeResult, StepError } from '../dsl/protocol.ts';
import { isScopeResult } from './guards.ts';

/** The ScopeResult a failed child carried in its failure details, if it reported one. */
export function scopeResultOf(err: unknown): ScopeResult | undefined {
  if (!(err instanceof ChildWorkflowFailure) || !(err.cause instanceof ApplicationFailure)) return undefined;
  if (err.cause.type !== FailureType.ScopeFailed) return undefined;
  const details: unknown = err.cause.details?.[0];
  return isScopeResult(details) ? details : undefined;
}

/**
 * The failure a step reports: the op's own error where there is one, with the class of what the op
 * threw (`errorClass`) beside the stable type.
 */
export function errorOf(err: unknown): StepError {
  let cause: unknown = err;
  while ((cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) {
    const errorClass = thrownClassOf(cause);
    return { type: cause.type ?? 'Error', message: cause.message, ...(errorClass ? { errorClass } : {}) };
  }
  if (cause instanceof TimeoutFailure) return { type: 'Timeout', message: `${cause.timeoutType ?? 'timeout'}: ${cause.message}` };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: 'Error', message: String(cause) };
}
