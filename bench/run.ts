/**
 * `npm run bench [-- --only fanout,letters,scale,dagster] [--scale-keys 100000]`
 * Benchmarks (not timed tests): prints a markdown table and writes bench/results/latest.json.
 * 1. fan-out throughput, N = 2,000 trivial keys: child / activity / batch(100) vs a hand-written Temporal baseline;
 * 2. the seed's letters job (26 keys × 1 s sleep), submit to result;
 * 3. scale: 100,000 keys (batch, activity) and 10,000 (child): time, peak worker RSS, longest history;
 * 4. Dagster side by side (letters, 2,000 keys), installed into a virtualenv by bench/dagster/setup.sh.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dynamicOutputs } from '../examples/letters.ts';
import { benchEnv, longestHistory, runBaseline, runOpgraph } from './common.ts';
import { runDagsterBench } from './dagster.ts';
import { expectedSum, fanOutJob, keysConfig } from './jobs.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'fanout,letters,scale,dagster' },
    'fanout-keys': { type: 'string', default: '2000' },
    'scale-keys': { type: 'string', default: '100000' },
    'child-scale-keys': { type: 'string', default: '10000' },
    'dagster-keys': { type: 'string', default: '2000' },
    'scale-modes': { type: 'string', default: 'batch,activity,child' },
  },
});
const only = new Set((values.only ?? '').split(','));
const rows: Record<string, unknown>[] = [];
const record = (row: Record<string, unknown>) => {
  rows.push(row);
  console.log(JSON.stringify(row));
};

const env = await benchEnv();
try {
  if (only.has('fanout')) {
    const n = Number(values['fanout-keys']);
    const baseline = await runBaseline(env, n);
    if (baseline.sum !== expectedSum(n)) throw new Error(`baseline sum ${baseline.sum} ≠ ${expectedSum(n)}`);
    record({
      bench: 'fanout',
      system: 'temporal-baseline',
      keys: n,
      seconds: round(baseline.seconds),
      keysPerSecond: round(n / baseline.seconds),
    });
    for (const [mode, options] of [
      ['child', { mode: 'child' }],
      ['activity', { mode: 'activity' }],
      ['batch', { mode: 'batch', batchSize: 100 }],
    ] as const) {
      const run = await runOpgraph(env, fanOutJob(`bench_fanout_${mode}`, options), keysConfig(n));
      await check(run.result.outputFor('bench_sum'), expectedSum(n), `fanout ${mode}`);
      record({ bench: 'fanout', system: `opgraph-${mode}`, keys: n, seconds: round(run.seconds), keysPerSecond: round(n / run.seconds) });
    }
  }
  if (only.has('letters')) {
    const run = await runOpgraph(env, dynamicOutputs);
    if (!run.result.success) throw new Error('letters run failed');
    record({ bench: 'letters', system: 'opgraph-child', keys: 26, seconds: round(run.seconds) });
  }
  if (only.has('scale')) {
    const big = Number(values['scale-keys']);
    const childKeys = Number(values['child-scale-keys']);
    for (const [mode, n, options] of [
      ['batch', big, { mode: 'batch', batchSize: 100 }],
      ['activity', big, { mode: 'activity' }],
      ['child', childKeys, { mode: 'child' }],
    ] as const) {
      if (!(values['scale-modes'] ?? '').split(',').includes(mode)) continue;
      const run = await runOpgraph(env, fanOutJob(`bench_scale_${mode}`, options), keysConfig(n));
      await check(run.result.outputFor('bench_sum'), expectedSum(n), `scale ${mode}`);
      const history = await longestHistory(env, run.workflowId);
      record({
        bench: 'scale',
        system: `opgraph-${mode}`,
        keys: n,
        seconds: round(run.seconds),
        keysPerSecond: round(n / run.seconds),
        peakRssMiB: run.peakRssMiB,
        longestHistoryEvents: history.events,
        workflows: history.workflows,
      });
    }
  }
  if (only.has('dagster')) {
    const n = Number(values['dagster-keys']);
    const letters = await runDagsterBench('letters');
    record({ bench: 'letters', system: `dagster-${letters.version}`, keys: 26, seconds: round(letters.seconds) });
    const fanout = await runDagsterBench('fanout2000', { keys: n });
    record({
      bench: 'fanout',
      system: `dagster-${fanout.version}`,
      keys: n,
      seconds: round(fanout.seconds),
      keysPerSecond: round(n / fanout.seconds),
    });
  }
} finally {
  await env.close();
}

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), `${JSON.stringify({ at: new Date().toISOString(), rows }, null, 2)}\n`);
console.log('\n| bench | system | keys | seconds | keys/s | peak RSS MiB | longest history |\n| --- | --- | --- | --- | --- | --- | --- |');
const cell = (value: unknown) => (typeof value === 'number' || typeof value === 'string' ? String(value) : '');
for (const r of rows) {
  console.log(`| ${[r.bench, r.system, r.keys, r.seconds, r.keysPerSecond, r.peakRssMiB, r.longestHistoryEvents].map(cell).join(' | ')} |`);
}

async function check(actual: Promise<unknown>, expected: number, what: string): Promise<void> {
  const value = await actual;
  if (value !== expected) throw new Error(`${what}: result ${String(value)} ≠ expected ${expected}`);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
