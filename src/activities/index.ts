import type { Definitions } from '../dsl/job.ts';
import { BATCH_ACTIVITY, RESOLVE_PLAN_ACTIVITY, SLICE_ACTIVITY, STORE_ACTIVITY } from '../dsl/constants.ts';
import { runBatch } from './batch.ts';
import { sliceItems, storeValue } from './bookkeeping.ts';
import { resolvePlan } from './resolvePlan.ts';
import { runOp } from './runOp.ts';

/** The activities a worker registers: one handler, `default`, runs every op (activity type = op name). */
export function createOpActivities(definitions: Definitions): Record<string, (input: unknown) => Promise<unknown>> {
  return {
    default: (input: unknown) => runOp(definitions, input),
    [BATCH_ACTIVITY]: (input: unknown) => runBatch(definitions, runOp, input),
    [STORE_ACTIVITY]: storeValue,
    [SLICE_ACTIVITY]: sliceItems,
    [RESOLVE_PLAN_ACTIVITY]: (input: unknown) => resolvePlan(definitions, input),
  };
}
