/**
 * Which op a step runs on this worker: found through the step's job and node, never by op name alone.
 * Two jobs may each have an op called `load_pieces`; a worker that serves only one of them must not
 * run it for the other's step (it would run the wrong code with the wrong config). A step's task also
 * carries its node's signature from the run's plan (op, inputs, outputs): a worker whose job has a
 * different one does not serve that step either. Both fail at once, without retries, saying what to do.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Definitions } from '../dsl/job.ts';
import type { OpSpec } from '../dsl/op.ts';
import { opSignature } from '../dsl/keys.ts';
import { FailureType, type OpTaskInput } from '../dsl/protocol.ts';

export function resolveStep(definitions: Definitions, task: OpTaskInput): OpSpec {
  const where = `step ${task.stepKey} of job "${task.job}"`;
  const job = definitions.jobs.get(task.job);
  if (!job) {
    throw definitionFailure(
      `this worker does not serve job "${task.job}" (${where}, op "${task.op}"); it serves: ${listed([...definitions.jobs.keys()])}. Fix: start the worker with Definitions that include job "${task.job}"; every worker polling a task queue must have the same Definitions, so give workers of other jobs their own task queue.`,
    );
  }
  const node = job.plan.nodes.find((n) => n.id === task.node);
  if (!node || node.op !== task.op) {
    const has = node ? `runs op "${node.op}" at node "${task.node}"` : `has no node "${task.node}"`;
    throw definitionFailure(
      `this worker's job "${task.job}" ${has}, but the run's plan has op "${task.op}" there (${where}): the job's code changed under a run in flight. Fix: keep the old node/op until runs started before the change have ended (see README, Upgrading with runs in flight), or re-execute the run on the new code.`,
    );
  }
  const mine = opSignature(node);
  if (task.signature !== undefined && task.signature !== mine) {
    throw definitionFailure(
      `op "${task.op}" of job "${task.job}" on this worker is ${mine}, but the run's plan has ${task.signature} (${where}): its inputs or outputs changed under a run in flight. Fix: keep the op's inputs and outputs until runs started before the change have ended, or re-execute the run on the new code.`,
    );
  }
  const spec = job.nodeOps.get(task.node) ?? definitions.ops.get(task.op);
  if (!spec)
    throw definitionFailure(`this worker does not know op "${task.op}" (${where}); it serves: ${listed([...definitions.ops.keys()])}.`);
  return spec;
}

function definitionFailure(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.Definition);
}

function listed(names: readonly string[]): string {
  return names.length > 20 ? `${names.slice(0, 20).join(', ')} … (${names.length} in all)` : names.join(', ') || '(none)';
}
