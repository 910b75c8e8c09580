import type { Definitions } from '../dsl/job.ts';
import { BATCH_ACTIVITY, RESOLVE_PLAN_ACTIVITY, SLICE_ACTIVITY, STORE_ACTIVITY } from '../dsl/constants.ts';
import { runBatch } from './batch.ts';
import { sliceItems, storeValue } from './bookkeeping.ts';
import { resolvePlan } from './resolvePlan.ts';
import { HeartbeatPacer } from './heartbeatPacer.ts';
import { runOp } from './runOp.ts';

export interface OpActivitiesOptions {
  /** Heartbeats per second this worker's running ops send together when many run (src/activities/heartbeatPacer.ts). */
  heartbeatRate?: number;
}

/** The activities a worker registers: one handler, `default`, runs every op (activity type = op name). */
export function createOpActivities(
  definitions: Definitions,
  options: OpActivitiesOptions = {},
): Record<string, (input: unknown) => Promise<unknown>> {
  // One pacer per worker: its running ops share one heartbeat rate.
  const pacer = new HeartbeatPacer(options.heartbeatRate);
  const runStep = (defs: Definitions, input: unknown) => runOp(defs, input, pacer);
  return {
    default: (input: unknown) => runStep(definitions, input),
    [BATCH_ACTIVITY]: (input: unknown) => runBatch(definitions, runStep, input),
    [STORE_ACTIVITY]: storeValue,
    [SLICE_ACTIVITY]: sliceItems,
    [RESOLVE_PLAN_ACTIVITY]: (input: unknown) => resolvePlan(definitions, input),
  };
}
