/**
 * Where the letters job's time goes: `npx tsx bench/letters-phases.ts [runs]` (default 4) runs the seed's
 * letters job (26 keys × 1 s) on one worker against a fresh dev server and, from the histories of the last
 * run, prints when each phase happened (server event times, ms after the job workflow started). bench/RESULTS.md §2.
 */
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import { benchEnv, runOpgraphSeries } from './common.ts';
import { dynamicOutputs } from '../examples/letters.ts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const runs = Number(process.argv[2] ?? 4);
const env = await benchEnv('dev');
try {
  const { seconds, workflowIds } = await runOpgraphSeries(env, dynamicOutputs, runs);
  console.log(`submit → result (s): ${seconds.map((s) => s.toFixed(2)).join(', ')} (the first on a fresh worker)`);
  const jobId = workflowIds[workflowIds.length - 1] as string;
  const job = (await env.client.workflow.getHandle(jobId).fetchHistory()).events ?? [];
  const t0 = tsToMs(job[0]?.eventTime);
  const at = (events: HistoryEvent[], has: (e: HistoryEvent) => unknown): number => {
    const event = events.find((e) => has(e));
    return event ? tsToMs(event.eventTime) - t0 : Number.NaN;
  };
  const children = await Promise.all(
    [...'abcdefghijklmnopqrstuvwxyz'].map(async (key) => {
      const events = (await env.client.workflow.getHandle(`${jobId}/letters_load_pieces[${key}]`).fetchHistory()).events ?? [];
      return {
        started: at(events, (e) => e.workflowExecutionStartedEventAttributes),
        firstTaskDone: at(events, (e) => e.workflowTaskCompletedEventAttributes),
        activityStarted: at(events, (e) => e.activityTaskStartedEventAttributes),
        activityDone: at(events, (e) => e.activityTaskCompletedEventAttributes),
        done: at(events, (e) => e.workflowExecutionCompletedEventAttributes),
      };
    }),
  );
  const range = (pick: (c: (typeof children)[number]) => number) => {
    const xs = children.map(pick).sort((a, b) => a - b);
    return `${xs[0]}–${xs[xs.length - 1]} (median ${xs[Math.floor(xs.length / 2)]})`;
  };
  console.log(`job workflow: load_pieces activity started +${at(job, (e) => e.activityTaskStartedEventAttributes)} ms`);
  console.log(`children started            +${range((c) => c.started)} ms`);
  console.log(`child's first task done     +${range((c) => c.firstTaskDone)} ms`);
  console.log(`child's activity started    +${range((c) => c.activityStarted)} ms`);
  console.log(`child's activity done       +${range((c) => c.activityDone)} ms`);
  console.log(`children done               +${range((c) => c.done)} ms`);
  console.log(`job done                    +${at(job, (e) => e.workflowExecutionCompletedEventAttributes)} ms`);
} finally {
  await env.close();
}
