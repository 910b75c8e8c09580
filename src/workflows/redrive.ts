/**
 * Redrive in place, in the job workflow (src/engine/redrive.ts has the rule): failed units wait in a
 * `WaitingFailures`; the `opgraph.redrive` update runs them again, `opgraph.giveUp` ends them as
 * failed, and an optional timeout gives up by itself. Both updates are validated: a run with nothing
 * waiting, or a step key that is not waiting, is refused with the steps that are.
 */
import { ApplicationFailure, condition, defineUpdate, setHandler } from '@temporalio/workflow';
import { REDRIVE, type RedriveReport, type RedriveRequest } from '../dsl/constants.ts';
import { EVENTS } from '../dsl/limits.ts';
import type { JobPlan } from '../dsl/plan.ts';
import type { WorkflowBudget } from '../engine/budget.ts';
import type { ProgressCounter } from '../engine/progress.ts';
import { WaitingFailures } from '../engine/redrive.ts';

export const redriveUpdate = defineUpdate<RedriveReport, [RedriveRequest]>(REDRIVE.redrive);
export const giveUpUpdate = defineUpdate<RedriveReport, []>(REDRIVE.giveUp);

function refuse(message: string): never {
  throw ApplicationFailure.create({ type: REDRIVE.refused, message, nonRetryable: true });
}

/** What the updates need; each is undefined while a run started by job name resolves its plan. */
export interface RedriveContext {
  readonly plan: () => JobPlan | undefined;
  readonly failures: () => WaitingFailures | undefined;
  readonly budget: () => WorkflowBudget | undefined;
}

/** A job workflow's waiting failures, when its plan asks for them; shown in its progress; given up after the plan's timeout. */
export function waitingFailures(plan: JobPlan, progress: ProgressCounter): WaitingFailures | undefined {
  const policy = plan.onStepFailure;
  if (policy?.mode !== 'wait') return undefined;
  const failures = new WaitingFailures((ready) => condition(ready));
  failures.watch(() => progress.waitingChanged(failures.summary()));
  const timeout = policy.timeoutMs;
  if (timeout !== undefined) void giveUpAfter(failures, timeout);
  return failures;
}

/** Gives up when failed steps have waited `timeoutMs` with no redrive (each wait starts when the first step parks). */
async function giveUpAfter(failures: WaitingFailures, timeoutMs: number): Promise<void> {
  for (;;) {
    await condition(() => failures.waiting);
    const cleared = await condition(() => !failures.waiting, timeoutMs);
    if (!cleared) failures.decide('give-up', undefined, `no redrive within ${Math.round(timeoutMs / 1000)} s (the job's redriveTimeout)`);
  }
}

/** The job workflow: redrive and give-up updates, each with a validator. */
export function acceptRedrives(context: RedriveContext): void {
  setHandler(redriveUpdate, (request) => redrive(context, request), {
    validator: (request: unknown) => void redriveSelection(context, request),
    description:
      'run failed steps waiting for a redrive again, with what is downstream of them: { stepKeys?: ["op[key]", "op", …] } (none: all)',
  });
  setHandler(giveUpUpdate, () => giveUp(context), {
    validator: () => void ready(context),
    description: 'end a run whose failed steps wait for a redrive, as it would have failed',
  });
}

function ready(context: RedriveContext): { failures: WaitingFailures; budget: WorkflowBudget } {
  const plan = context.plan();
  if (!plan) refuse('this run is still resolving its plan (it was started by job name); try again in a moment');
  const failures = context.failures();
  const budget = context.budget();
  if (!failures || !budget) {
    refuse(
      `job "${plan.job}" does not wait on failed steps (its onStepFailure is 'fail'): use \`opgraph reexecute --from-failure\` once it ends`,
    );
  }
  if (!failures.waiting) refuse('no failed step of this run is waiting for a redrive');
  return { failures, budget };
}

function redriveSelection(context: RedriveContext, raw: unknown) {
  const { failures, budget } = ready(context);
  const request = (raw ?? {}) as Partial<RedriveRequest>;
  if (typeof request !== 'object' || (request.stepKeys !== undefined && !isStringArray(request.stepKeys))) {
    refuse(`a redrive request is { stepKeys?: ["op[key]", …] }; got ${JSON.stringify(raw)}`);
  }
  const selection = failures.select(request.stepKeys ?? []);
  if ('problem' in selection) refuse(selection.problem);
  const events = selection.events + EVENTS.update;
  if (events > budget.freeEvents) {
    refuse(
      `running ${selection.units.length} failed unit(s) again would take ~${events} history events and this run's history has room for ${budget.freeEvents}; redrive fewer steps (--step-keys), or give up and use \`opgraph reexecute --from-failure\``,
    );
  }
  return { failures, budget, selection };
}

function redrive(context: RedriveContext, raw: RedriveRequest): RedriveReport {
  const { failures, budget, selection } = redriveSelection(context, raw);
  budget.reserveEvents(selection.events + EVENTS.update);
  const stepKeys = failures.decide('redrive', selection.units);
  return { action: 'redrive', stepKeys, stillWaiting: failures.summary().steps };
}

function giveUp(context: RedriveContext): RedriveReport {
  const { failures, budget } = ready(context);
  budget.reserveEvents(EVENTS.update);
  const stepKeys = failures.decide('give-up', undefined, 'given up (opgraph give-up)');
  return { action: 'give-up', stepKeys, stillWaiting: 0 };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
