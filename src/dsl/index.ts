/** Authoring API: everything a job module needs. Pure: no Node APIs, no Temporal imports. */
export { op, parameterNames } from './op.ts';
export type {
  AnyOpDefinition,
  Arg,
  InvocationResult,
  MultiResult,
  OpArgs,
  OpConfig,
  OpContext,
  OpDefinition,
  OpFn,
  OpLogger,
  OpSpec,
  OpTimeouts,
} from './op.ts';
export { job, graph, Definitions } from './job.ts';
export type { GraphDefinition, JobConfig, JobDefinition } from './job.ts';
export { DynamicHandle, Handle } from './handles.ts';
export type { MapOptions, MapResult } from './handles.ts';
export type { ToleratedFailures } from './tolerance.ts';
export { DynamicOut, DynamicOutput, In, Out, Output, RetryPolicy } from './outputs.ts';
export type { DynamicOutputOptions, RetryPolicyOptions, Schema } from './outputs.ts';
export { JobDefinitionError, OpExecutionError, OpgraphError, OutputContractError, OutputNotFoundError, RunConfigError } from './errors.ts';
export type { DefinitionIssue, RunConfigIssue } from './errors.ts';
export { resolveRunConfig } from './runConfig.ts';
export type { NodeRunConfig, RunConfig } from './runConfig.ts';
export { JobPlan, PLAN_VERSION } from './plan.ts';
export type { GraphOutput, InputSource, PlanNode } from './plan.ts';
export { mappingKeyProblem, parseStepKey, stepKey } from './keys.ts';
export type { StepStatus } from './protocol.ts';
