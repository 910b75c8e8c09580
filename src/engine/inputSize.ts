/**
 * What the input of a command this workflow issues weighs, about: the budget keeps the inputs of
 * all pending commands under one workflow-task completion's limit (src/engine/budget.ts).
 * Estimates from the parts the engine hands its host; the host adds only small fixed fields.
 */
import type { JobPlan } from '../dsl/plan.ts';
import type { OpTaskInput } from '../dsl/protocol.ts';
import type { ResolvedRunConfig } from '../dsl/runConfig.ts';
import type { KeyedScope } from './types.ts';
import { jsonBytes } from './payload.ts';

/** Ids, flags, options: what a host adds around the parts measured here. */
const ENVELOPE_BYTES = 1024;

const planBytes = new WeakMap<JobPlan, number>();

/** The plan a dimension's keys run with and the run config of its nodes: sent with every child, batch and shard. */
export function dimensionBytes(plan: JobPlan, runConfig: ResolvedRunConfig): number {
  let bytes = planBytes.get(plan);
  if (bytes === undefined) {
    bytes = jsonBytes(plan) + plan.nodes.reduce((sum, n) => sum + (runConfig[n.id] ? jsonBytes(runConfig[n.id]) : 0), 0);
    planBytes.set(plan, bytes);
  }
  return bytes;
}

export function taskBytes(task: OpTaskInput): number {
  return jsonBytes(task.inputs) + (task.config === undefined ? 0 : jsonBytes(task.config)) + ENVELOPE_BYTES;
}

export function keyBytes(item: KeyedScope): number {
  return jsonBytes(item.bindings) + jsonBytes(item.prior) + ENVELOPE_BYTES;
}
