/**
 * Workflow and server CPU on a big activity-mode map: three maps × 420 keys (each op sleeps 2 s), so ~1,000
 * keys are pending in one workflow at once (the budget test's shape; `--op-seconds` changes the 2 s). Alternates two worker settings, REPEAT
 * times each, and prints per run: submit-to-result seconds, the worker process's CPU seconds (workflow
 * threads and ops together), the Temporal server process's CPU seconds, the workflow task timeouts and
 * failures in the job's history, and the longest workflow task.
 * - `--vary stack-traces` (default): the workflow sandboxes' stack traces off (the default) and on
 *   (OPGRAPH_WORKFLOW_STACK_TRACES=1).
 * - `--vary heartbeats`: heartbeats paced at the default rate (50/s per worker) and unpaced (every
 *   running op at the 1 s throttle, as before src/activities/heartbeatPacer.ts).
 * `npx tsx bench/workflow-cpu.ts [--repeat 3] [--vary stack-traces|heartbeats] [--server dev|cluster] [--op-seconds 2]`
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DynamicOut, DynamicOutput, job, op } from '../src/index.ts';
import { WORKFLOW_STACK_TRACES_ENV } from '../src/worker/stackTraces.ts';
import type { CreateWorkerOptions } from '../src/worker/createWorker.ts';
import { benchEnv, runOpgraph, type BenchEnv } from './common.ts';

const emit = op({ name: 'cpu_emit', out: new DynamicOut<number>(), config: z.object({ keys: z.number().int() }) }, async function* (ctx) {
  for (let i = 0; i < ctx.opConfig.keys; i++) yield new DynamicOutput(i, `k${i}`);
});
const slow = op({ name: 'cpu_slow' }, async (_c, x: number) => {
  await sleep(opSeconds * 1000);
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
const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    vary: { type: 'string', default: 'stack-traces' },
    server: { type: 'string', default: 'dev' },
    'op-seconds': { type: 'string', default: '2' },
  },
});
/** How long each op runs: heartbeats cost the server only while ops run long enough to send them. */
const opSeconds = Number(values['op-seconds']);
const repeat = Number(values.repeat);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** The two settings a run alternates between: a row name and how the worker is set up. */
interface Variant {
  name: string;
  setup(): Partial<CreateWorkerOptions>;
}
const VARIANTS: Record<string, Variant[]> = {
  'stack-traces': [
    { name: 'stack traces off (default)', setup: () => (delete process.env[WORKFLOW_STACK_TRACES_ENV], {}) },
    { name: 'stack traces on', setup: () => ((process.env[WORKFLOW_STACK_TRACES_ENV] = '1'), {}) },
  ],
  heartbeats: [
    { name: 'heartbeats paced (50/s per worker, default)', setup: () => ({}) },
    // A rate no worker reaches: every running op beats at the throttle (1 s), as before the pacer.
    { name: 'heartbeats unpaced (every op each 1 s)', setup: () => ({ timing: { heartbeatRate: '1000000' } }) },
  ],
};
const variants = VARIANTS[values.vary];
if (!variants) throw new Error(`--vary: use ${Object.keys(VARIANTS).join(' or ')}`);
if (values.server !== 'dev' && values.server !== 'cluster') throw new Error('--server: use dev or cluster');

/** CPU seconds the Temporal server process has used so far (Linux /proc; NaN where unavailable). */
function serverCpuSeconds(env: BenchEnv): number {
  const pid = env.cluster?.serverPid() ?? env.server?.pid;
  try {
    // Fields after the command name: utime and stime are the 12th and 13th (clock ticks, 100 per second).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

const env = await benchEnv(values.server);
const rows: Record<
  string,
  { seconds: number[]; cpu: number[]; server: number[]; timeouts: number[]; failed: number[]; longest: number[] }
> = {};
try {
  console.log(
    `commit ${execSync('git rev-parse --short HEAD').toString().trim()}, ${values.server} server, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (let r = 0; r < repeat; r++) {
    for (const variant of variants) {
      const options = variant.setup();
      const before = process.cpuUsage();
      const serverBefore = serverCpuSeconds(env);
      const run = await runOpgraph(env, cpuJob, runConfig, { maxConcurrentActivityTaskExecutions: 1500, ...options });
      const used = process.cpuUsage(before);
      const serverUsed = serverCpuSeconds(env) - serverBefore;
      if (!run.result.success) throw new Error('run failed');
      const events = (await env.client.workflow.getHandle(run.workflowId).fetchHistory()).events ?? [];
      const ms = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
      let started: (typeof events)[number] | undefined;
      let longest = 0;
      for (const e of events) {
        if (e.workflowTaskStartedEventAttributes) started = e;
        if (e.workflowTaskCompletedEventAttributes && started) longest = Math.max(longest, ms(e) - ms(started));
      }
      const row = (rows[variant.name] ??= {
        seconds: [],
        cpu: [],
        server: [],
        timeouts: [],
        failed: [],
        longest: [],
      });
      row.seconds.push(run.seconds);
      row.cpu.push((used.user + used.system) / 1e6);
      row.server.push(serverUsed);
      row.timeouts.push(events.filter((e) => e.workflowTaskTimedOutEventAttributes).length);
      const failures = events.flatMap((e) => (e.workflowTaskFailedEventAttributes ? [e.workflowTaskFailedEventAttributes] : []));
      row.failed.push(failures.length);
      row.longest.push(longest / 1000);
      // Why they failed (the cause's enum number and the failure's first line), counted.
      const causes = new Map<string, number>();
      for (const f of failures) {
        const why = `cause ${f.cause ?? '?'}: ${(f.failure?.message ?? '').split('\n')[0]?.slice(0, 100)}`;
        causes.set(why, (causes.get(why) ?? 0) + 1);
      }
      console.log(
        `run ${r + 1}, ${variant.name}: ${run.seconds.toFixed(1)} s, worker CPU ${((used.user + used.system) / 1e6).toFixed(1)} s, server CPU ${serverUsed.toFixed(1)} s, ` +
          `workflow tasks timed out ${row.timeouts.at(-1)}, failed ${row.failed.at(-1)}, longest ${(longest / 1000).toFixed(2)} s` +
          (causes.size ? ` (${[...causes].map(([why, n]) => `${n}× ${why}`).join('; ')})` : ''),
      );
    }
  }
  console.log(
    `\n| workers (${MAPS} maps × ${KEYS} keys, activity mode, ops sleep ${opSeconds} s) | run s | worker CPU s | server CPU s | WFT timed out | WFT failed | longest WFT s |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, r] of Object.entries(rows)) {
    console.log(
      `| ${name} | ${median(r.seconds).toFixed(1)} | ${median(r.cpu).toFixed(1)} | ${median(r.server).toFixed(1)} | ${median(r.timeouts)} | ${median(r.failed)} | ${median(r.longest).toFixed(2)} |`,
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
