/**
 * Redrive in place, from code (a job with `onStepFailure: 'wait'`): run the failed steps that wait
 * in a running run again — after a fixed worker is deployed, an outage ended — or give the run up.
 * Each is a Temporal Update on the run's job workflow, which refuses unknown or not-waiting step keys
 * with the ones that wait; `opgraph redrive` and `opgraph give-up` use these.
 */
import type { Client } from '@temporalio/client';
import { REDRIVE, type RedriveReport, type RedriveRequest } from '../dsl/constants.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { runUpdate } from './runUpdate.ts';

export type { RedriveReport } from '../dsl/constants.ts';

/** A redrive or give-up the run refused (nothing waiting, a step key not waiting) or could not take (run not running). */
export class RedriveError extends OpgraphError {
  override readonly name = 'RedriveError';
  constructor(
    message: string,
    /** True when the run refused the request: fix the request, not the environment. */
    readonly refused: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Runs failed steps of `workflowId` again, with everything downstream of them: `stepKeys` picks
 * them (`op[key]`, nested `op[outer,inner]`, or `op` for all of an op's); none means every waiting step.
 */
export function redrive(client: Client, workflowId: string, options: { stepKeys?: readonly string[] } = {}): Promise<RedriveReport> {
  const request: RedriveRequest = options.stepKeys && options.stepKeys.length > 0 ? { stepKeys: [...options.stepKeys] } : {};
  return update(client, workflowId, 'redrive', REDRIVE.redrive, [request]);
}

/** Ends a run whose failed steps wait, as it would have failed without `onStepFailure: 'wait'`. */
export function giveUp(client: Client, workflowId: string): Promise<RedriveReport> {
  return update(client, workflowId, 'give up', REDRIVE.giveUp, []);
}

function update(client: Client, workflowId: string, what: string, name: string, args: [RedriveRequest] | []): Promise<RedriveReport> {
  return runUpdate(
    client,
    workflowId,
    (handle) =>
      args.length === 0
        ? handle.executeUpdate<RedriveReport, []>(name)
        : handle.executeUpdate<RedriveReport, [RedriveRequest]>(name, { args }),
    (problem, cause) => {
      if (problem.kind === 'refused') return new RedriveError(`cannot ${what} ${workflowId}: ${problem.detail}`, true, { cause });
      if (problem.kind === 'not-found') return new RedriveError(problem.message, false, { cause });
      const hint = problem.status === 'FAILED' ? `; re-execute it instead: opgraph reexecute ${workflowId} --from-failure` : '';
      return new RedriveError(`cannot ${what} ${workflowId}: the run is not running (status ${problem.status})${hint}`, false, { cause });
    },
  );
}
