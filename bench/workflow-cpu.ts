/**
 * Workflow CPU on a big activity-mode map: three maps × 420 keys (each op sleeps 2 s), so ~1,000 keys are
 * pending in one workflow at once (the budget test's shape). Alternates workers with the workflow sandboxes'
 * stack traces off (the default) and on (OPGRAPH_WORKFLOW_STACK_TRACES=1), REPEAT times each, and prints per
 * run: submit-to-result seconds, the worker process's CPU seconds (workflow threads and ops together), the
 * workflow task timeouts and failures in the job's history, and the longest workflow task.
 * `npx tsx bench/workflow-cpu.ts [REPEAT=3]`
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { z } from 'zod';
import { DynamicOut, DynamicOutput, job, op } from '../src/index.ts';
import { WORKFLOW_STACK_TRACES_ENV } from '../src/worker/stackTraces.ts';
import { benchEnv, runOpgraph } from './common.ts';

const emit = op({ name: 'cpu_emit', out: new DynamicOut<number>(), config: z.object({ keys: z.number().int() }) }, async function* (ctx) {
  for (let i = 0; i < ctx.opConfig.keys; i++) yield new DynamicOutput(i, `k${i}`);
});
const slow = op({ name: 'cpu_slow' }, async (_c, x: number) => {
  await sleep(2_000);
  return x + 1;
});
const total = op({ name: 'cpu_total' }, async (_c, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const MAPS = 3;
const KEYS = 420;
const cpuJob = job({ name: 'cpu_maps' }, () => {
  for (let m = 0; m < MAPS; m++) total(emit().map(slow, { mode: 'activity' }).collect());
});
const runConfig = {
  ops: Object.fromEntries(Array.from({ length: MAPS }, (_, m) => [m === 0 ? 'cpu_emit' : `cpu_emit_${m + 1}`, { config: { keys: KEYS } }])),
};
const repeat = Number(process.argv[2] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const env = await benchEnv('dev');
const rows: Record<string, { seconds: number[]; cpu: number[]; timeouts: number[]; failed: number[]; longest: number[] }> = {};
try {
  console.log(
    `commit ${execSync('git rev-parse --short HEAD').toString().trim()}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (let r = 0; r < repeat; r++) {
    for (const traces of [false, true]) {
      if (traces) process.env[WORKFLOW_STACK_TRACES_ENV] = '1';
      else delete process.env[WORKFLOW_STACK_TRACES_ENV];
      const before = process.cpuUsage();
      const run = await runOpgraph(env, cpuJob, runConfig, { maxConcurrentActivityTaskExecutions: 1500 });
      const used = process.cpuUsage(before);
      if (!run.result.success) throw new Error('run failed');
      const events = (await env.client.workflow.getHandle(run.workflowId).fetchHistory()).events ?? [];
      const ms = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
      let started: (typeof events)[number] | undefined;
      let longest = 0;
      for (const e of events) {
        if (e.workflowTaskStartedEventAttributes) started = e;
        if (e.workflowTaskCompletedEventAttributes && started) longest = Math.max(longest, ms(e) - ms(started));
      }
      const row = (rows[traces ? 'stack traces on' : 'stack traces off (default)'] ??= {
        seconds: [],
        cpu: [],
        timeouts: [],
        failed: [],
        longest: [],
      });
      row.seconds.push(run.seconds);
      row.cpu.push((used.user + used.system) / 1e6);
      row.timeouts.push(events.filter((e) => e.workflowTaskTimedOutEventAttributes).length);
      row.failed.push(events.filter((e) => e.workflowTaskFailedEventAttributes).length);
      row.longest.push(longest / 1000);
      console.log(
        `run ${r + 1}, traces ${traces ? 'on ' : 'off'}: ${run.seconds.toFixed(1)} s, worker CPU ${((used.user + used.system) / 1e6).toFixed(1)} s, ` +
          `workflow tasks timed out ${row.timeouts.at(-1)}, failed ${row.failed.at(-1)}, longest ${(longest / 1000).toFixed(2)} s`,
      );
    }
  }
  console.log(
    `\n| workers (${MAPS} maps × ${KEYS} keys, activity mode, ops sleep 2 s) | run s | worker CPU s | WFT timed out | WFT failed | longest WFT s |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [name, r] of Object.entries(rows)) {
    console.log(
      `| ${name} | ${median(r.seconds).toFixed(1)} | ${median(r.cpu).toFixed(1)} | ${median(r.timeouts)} | ${median(r.failed)} | ${median(r.longest).toFixed(2)} |`,
    );
  }
  console.log(
    `(medians of ${repeat} alternating runs each; load average after: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})`,
  );
} finally {
  await env.close();
}
