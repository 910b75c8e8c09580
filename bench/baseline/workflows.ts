/**
 * The hand-written Temporal baseline for benchmark 1: a parent starts one child per key, keeping
 * at most `window` children running, and each child runs one activity. What a Temporal user would
 * write by hand for the same fan-out, with no interpreter in between.
 */
import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as activities from './activities.ts';

const { trivial } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

export async function baselineParent(n: number, window: number): Promise<number> {
  let next = 0;
  let sum = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const value = await executeChild(baselineChild, { args: [i], workflowId: `${workflowInfo().workflowId}/${i}` });
      sum += value; // not `sum += await …`: that reads `sum` before the await and loses updates
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
  return sum;
}

export async function baselineChild(i: number): Promise<number> {
  return trivial(i);
}
