/**
 * The opgraph interpreter, as Temporal workflow code. Every job runs through the default
 * workflow, so the workflow type is the job's name; mapped scopes run as children of type
 * `<job>/<fan-out node>[*]`. Deterministic: imports only @temporalio/workflow and src/dsl.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType, type ScopeResult, WorkflowInput } from '../dsl/protocol.ts';
import { ScopeInterpreter } from './interpreter.ts';
import { ProgressTracker } from './progress.ts';
import { TemporalEngine } from './temporalEngine.ts';

export default async function opgraphInterpreter(raw: unknown): Promise<ScopeResult> {
  const parsed = WorkflowInput.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `opgraph workflow input is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}. Start runs with launchRun()/runJob() or the opgraph CLI.`,
      FailureType.Definition,
    );
  }
  const input = parsed.data;
  const scope =
    input.kind === 'job'
      ? { runId: input.runId, plan: input.plan, runConfig: input.runConfig, dim: [], keys: [], bindings: {}, stage: 0, prior: {} }
      : input;
  const level = scope.dim.length - 1;
  const watched = scope.plan.nodes.filter((n) => level < 0 || (n.stages[level] ?? 0) === scope.stage).map((n) => n.id);
  const progress = new ProgressTracker(scope.plan.job, scope.runId, watched);
  const result = await new ScopeInterpreter(scope, new TemporalEngine(scope.runId, scope.runConfig), progress).run();
  const failed = Object.entries(result.steps).filter(([, r]) => r.status === 'FAILURE');
  if (failed.length > 0) {
    const list = failed.map(([key, r]) => `${key}: ${r.error?.type ?? 'Error'}: ${r.error?.message ?? ''}`);
    const where = input.kind === 'job' ? `run of job "${input.plan.job}"` : `mapping key ${input.keys.join(',')}`;
    throw ApplicationFailure.create({
      type: input.kind === 'job' ? FailureType.RunFailed : FailureType.ScopeFailed,
      message: `${failed.length} step(s) failed in ${where}:\n${list.slice(0, 20).join('\n')}${list.length > 20 ? `\n… and ${list.length - 20} more` : ''}`,
      nonRetryable: true,
      details: [result],
    });
  }
  return result;
}
