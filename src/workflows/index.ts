/**
 * The opgraph interpreter, as Temporal workflow code. Every job runs through the default
 * workflow, so the workflow type is the job's name; mapped scopes run as children of type
 * `<job>/<fan-out node>[*]`, shards of large fan-outs as `<job>/<fan-out node>[shard]`.
 * Deterministic: imports only @temporalio/workflow and src/dsl.
 */
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { FailureType, RESOLVE_PLAN_ACTIVITY } from '../dsl/constants.ts';
import type { ScopeResult, ShardResult, WorkflowInput } from '../dsl/protocol.ts';
import { workflowInputOf } from './guards.ts';
import { PAYLOAD } from '../dsl/limits.ts';
import { stageNodes } from '../engine/geometry.ts';
import { ScopeInterpreter } from '../engine/interpreter.ts';
import { compactResult } from '../engine/results.ts';
import { runShardScope } from '../engine/shardScope.ts';
import { untoleratedFailures } from '../engine/tolerance.ts';
import type { JobPlan } from '../dsl/plan.ts';
import type { ProgressCounter } from '../engine/progress.ts';
import { acceptControls, followControls, reportControls } from './control.ts';
import { progressTracker } from './progress.ts';
import { acceptRedrives, waitingFailures } from './redrive.ts';
import { TemporalEngine } from './temporalEngine.ts';

/** Before the payload budget: a job's result was compacted above 512 Ki characters (kept for replay). */
const LEGACY_JOB_RESULT_CHARS = 512 * 1024;

export default async function opgraphInterpreter(raw: unknown): Promise<ScopeResult | ShardResult> {
  // A job takes pause / resume / resize of its maps as updates: at once when its plan is in its input, else
  // from its start (refused while the plan resolves: without a handler Temporal would reject them anyway).
  let job: { plan: JobPlan; engine: TemporalEngine; progress: ProgressCounter } | undefined;
  const controlContext = {
    plan: () => job?.plan,
    controls: () => job?.engine.controls,
    progress: () => job?.progress,
    budget: () => job?.engine.budget,
  };
  const redriveContext = { plan: controlContext.plan, failures: () => job?.engine.failures, budget: controlContext.budget };
  const byName = isStartedByName(raw);
  if (byName) {
    acceptControls(controlContext);
    acceptRedrives(redriveContext);
  }
  const input = byName ? await resolveByName(raw) : workflowInputOf(raw);
  const engine = new TemporalEngine(
    input.runId,
    input.runConfig,
    input.searchAttributes === true,
    input.kind === 'job' ? undefined : input.controls,
  );
  if (input.kind !== 'job') followControls(engine.controls);
  if (input.kind === 'shard') {
    const watched = input.plan.nodes.map((n) => n.id);
    const progress = progressTracker(input.plan.job, input.runId, watched);
    reportControls(engine.controls, input.plan, progress);
    return runShardScope(input, engine, progress);
  }
  const scope =
    input.kind === 'job'
      ? {
          runId: input.runId,
          plan: input.plan,
          runConfig: input.runConfig,
          dim: [],
          keys: [],
          bindings: {},
          stage: 0,
          prior: {},
          ...(input.reexecution ? { reused: input.reexecution.chunks } : {}),
        }
      : input;
  const watched = stageNodes(scope.plan.nodes, scope.dim, scope.stage).map((n) => n.id);
  const progress = progressTracker(scope.plan.job, scope.runId, watched);
  reportControls(engine.controls, scope.plan, progress);
  if (input.kind === 'job') {
    // Works out, as steps fail, which nodes can no longer run (progress only: no command).
    progress.plan = input.plan;
    engine.failures = waitingFailures(input.plan, progress);
    job = { plan: input.plan, engine, progress };
    if (!byName) {
      acceptControls(controlContext);
      acceptRedrives(redriveContext);
    }
  }
  const interpreter = new ScopeInterpreter(scope, engine, progress);
  interpreter.reserveOwnSteps();
  const full = await interpreter.run();
  const result =
    input.kind === 'job'
      ? await compactResult(full, scope.keys.length, engine, PAYLOAD.jobResult, LEGACY_JOB_RESULT_CHARS)
      : await compactResult(full, scope.keys.length, engine, PAYLOAD.childResult, PAYLOAD.childResult);
  // Failures within their map's toleratedFailures are marked so and do not fail the run.
  const failed = untoleratedFailures(full);
  if (failed.length > 0) {
    const list = failed.map(({ stepKey, error }) => `${stepKey}: ${error?.type ?? 'Error'}: ${error?.message ?? ''}`);
    const where = input.kind === 'job' ? `run of job "${input.plan.job}"` : `mapping key ${scope.keys.join(',')}`;
    const maps = interpreter.toleranceExceeded.map((line) => `${line}\n`).join('');
    const gaveUp = engine.failures?.gaveUp;
    throw ApplicationFailure.create({
      type: input.kind === 'job' ? FailureType.RunFailed : FailureType.ScopeFailed,
      message: `${failed.length} step(s) failed in ${where}${gaveUp ? ` (they waited for a redrive: ${gaveUp})` : ''}:\n${maps}${list.slice(0, 20).join('\n')}${list.length > 20 ? `\n… and ${list.length - 20} more` : ''}`,
      nonRetryable: true,
      details: [result],
    });
  }
  return result;
}

/**
 * A run started by job name alone — `temporal workflow start --type dynamic_graph --input '{"ops": …}'`
 * or the Web UI's "Start workflow" — has no plan in its input: a worker that has the definitions
 * resolves the plan and validates the run config, as a recorded activity (so replay uses the same plan).
 */
function isStartedByName(raw: unknown): raw is Record<string, unknown> | undefined | null {
  if (raw === undefined || raw === null) return true;
  return typeof raw === 'object' && !Array.isArray(raw) && !('kind' in raw);
}

async function resolveByName(raw: Record<string, unknown> | undefined | null): Promise<WorkflowInput> {
  const { workflowType, runId } = workflowInfo();
  const resolve = proxyActivities<Record<string, (input: unknown) => Promise<unknown>>>({
    startToCloseTimeout: '1m',
    summary: `resolve the plan of job ${workflowType}`,
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: [FailureType.Definition] },
  })[RESOLVE_PLAN_ACTIVITY];
  if (!resolve) throw ApplicationFailure.nonRetryable('no activity proxy for plan resolution', FailureType.Definition);
  const runConfig = raw && 'runConfig' in raw ? raw.runConfig : (raw ?? {});
  return workflowInputOf({ kind: 'job', runId, ...((await resolve({ job: workflowType, runConfig })) as object) });
}
