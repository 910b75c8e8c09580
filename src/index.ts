/** opgraph: Dagster's op/job DSL with dynamic graphs, running durably on Temporal. */
export * from './dsl/index.ts';
export { JobResult } from './client/result.ts';
export type { FailedKey, MapFailures, RunStatus, StepFailure } from './client/result.ts';
export { awaitRun, cancelRun, jobWorkflowId, launchRun, PARENT_RUN_MEMO, runJob } from './client/run.ts';
export { reexecute, reexecuteRun, type ReexecuteOptions, type Reexecuted } from './client/reexecute.ts';
export type { LaunchedRun, LaunchOptions } from './client/run.ts';
export { MapControlError, pauseMap, resizeMap, resumeMap } from './client/control.ts';
export { giveUp, redrive, RedriveError, type RedriveReport } from './client/redrive.ts';
export type { MapAction, MapControlReport } from './client/control.ts';
export { stepLogs } from './client/logs.ts';
export type { StepLogEntry } from './client/logs.ts';
export { executeInProcess, localDevServer, resolveTarget, stopLocalDevServer } from './execute.ts';
export type { ExecuteOptions } from './execute.ts';
export { createWorker, interpreterBundle } from './worker/createWorker.ts';
export type { CreateWorkerOptions } from './worker/createWorker.ts';
export { startDevServer } from './server/devServer.ts';
export type { DevServer, DevServerOptions } from './server/devServer.ts';
export { DEFAULT_TASK_QUEUE, temporalTargetFromEnv } from './connection.ts';
