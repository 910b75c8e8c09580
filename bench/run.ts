/**
 * `npm run bench [-- --only fanout,letters,scale,dagster] [--scale-keys 100000] [--servers dev,cluster] [--address host:port]`
 * Benchmarks (not timed tests): prints a markdown table and writes bench/results/latest.json.
 * `--servers` runs the chosen benches on each server in turn: `dev` (a fresh dev server), `cluster` (a fresh
 * `opgraph cluster`: the Temporal server on PostgreSQL), `address` (`--address` or TEMPORAL_ADDRESS). Default:
 * TEMPORAL_ADDRESS when set, else a dev server. `--fanout-modes` picks the fan-out rows (baseline,child,activity,batch).
 * 1. fan-out throughput, N = 2,000 trivial keys: child / activity / batch(100) vs a hand-written Temporal baseline;
 * 2. the seed's letters job (26 keys × 1 s sleep), submit to result;
 * 3. scale: 100,000 keys (batch, activity) and 10,000 (child): time, peak worker RSS, longest history;
 * 4. Dagster side by side (letters, 2,000 keys), installed into a virtualenv by bench/dagster/setup.sh.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dynamicOutputs } from '../examples/letters.ts';
import { benchEnv, type BenchServerKind, longestHistory, runBaseline, runOpgraph, runOpgraphSeries } from './common.ts';
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
    'fanout-modes': { type: 'string', default: 'baseline,child,activity,batch' },
    servers: { type: 'string' },
    address: { type: 'string' },
  },
});
const SERVER_KINDS = ['dev', 'cluster', 'address'] as const;
const servers = (values.servers ?? '').split(',').filter(Boolean);
for (const kind of servers) {
  if (!(SERVER_KINDS as readonly string[]).includes(kind))
    throw new Error(`--servers: unknown server "${kind}" (use ${SERVER_KINDS.join(', ')})`);
}
const fanoutModes = new Set((values['fanout-modes'] ?? '').split(','));
const only = new Set((values.only ?? '').split(','));
const rows: Record<string, unknown>[] = [];
const record = (row: Record<string, unknown>) => {
  rows.push(row);
  console.log(JSON.stringify(row));
};

async function benchOn(kind: BenchServerKind | undefined, first: boolean): Promise<void> {
  const env = await benchEnv(kind, values.address);
  const server = env.kind;
  if (env.cluster) {
    const { timings, binaries } = env.cluster;
    record({
      bench: 'server',
      server,
      system: `temporal-server-${env.cluster.version}`,
      startSeconds: round(timings.total),
      postgresSeconds: round(timings.postgres),
      schemaSeconds: round(timings.schema),
      serverSeconds: round(timings.server),
      historyShards: env.cluster.numHistoryShards,
      postgresMajor: env.cluster.postgres.major,
      ...(binaries.buildInfo
        ? {
            goVersion: binaries.buildInfo.goVersion,
            builtAt: binaries.buildInfo.builtAt,
            serverBuildSeconds: binaries.buildInfo.serverSeconds,
            serverBinaryBytes: binaries.buildInfo.serverBytes,
            sqlToolBuildSeconds: binaries.buildInfo.sqlToolSeconds,
            sqlToolBinaryBytes: binaries.buildInfo.sqlToolBytes,
          }
        : {}),
    });
  }
  try {
    if (only.has('fanout')) {
      const n = Number(values['fanout-keys']);
      if (fanoutModes.has('baseline')) {
        const baseline = await runBaseline(env, n);
        if (baseline.sum !== expectedSum(n)) throw new Error(`baseline sum ${baseline.sum} ≠ ${expectedSum(n)}`);
        record({
          bench: 'fanout',
          server,
          system: 'temporal-baseline',
          keys: n,
          seconds: round(baseline.seconds),
          keysPerSecond: round(n / baseline.seconds),
        });
      }
      for (const [mode, options] of [
        ['child', { mode: 'child' }],
        ['activity', { mode: 'activity' }],
        ['batch', { mode: 'batch', batchSize: 100 }],
      ] as const) {
        if (!fanoutModes.has(mode)) continue;
        const run = await runOpgraph(env, fanOutJob(`bench_fanout_${mode}`, options), keysConfig(n));
        await check(run.result.outputFor('bench_sum'), expectedSum(n), `fanout ${mode}`);
        record({
          bench: 'fanout',
          server,
          system: `opgraph-${mode}`,
          keys: n,
          seconds: round(run.seconds),
          keysPerSecond: round(n / run.seconds),
        });
      }
    }
    if (only.has('letters')) {
      // The first run on a fresh worker, then the median of 3 more on the same (warm) worker.
      const [cold = NaN, ...warm] = (await runOpgraphSeries(env, dynamicOutputs, 4)).seconds;
      const median = [...warm].sort((a, b) => a - b)[1] ?? NaN;
      record({
        bench: 'letters',
        server,
        system: 'opgraph-child',
        keys: 26,
        seconds: round(median),
        warmRuns: warm.map(round),
        coldSeconds: round(cold),
      });
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
          server,
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
    // Dagster runs without a Temporal server: once, whatever --servers says.
    if (only.has('dagster') && first) {
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
}

const kinds = servers.length > 0 ? (servers as BenchServerKind[]) : [undefined];
for (const [i, kind] of kinds.entries()) await benchOn(kind, i === 0);

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), `${JSON.stringify({ at: new Date().toISOString(), rows }, null, 2)}\n`);
console.log(
  '\n| bench | server | system | keys | seconds | keys/s | peak RSS MiB | longest history |\n| --- | --- | --- | --- | --- | --- | --- | --- |',
);
const cell = (value: unknown) => (typeof value === 'number' || typeof value === 'string' ? String(value) : '');
for (const r of rows) {
  console.log(
    `| ${[r.bench, r.server, r.system, r.keys, r.seconds, r.keysPerSecond, r.peakRssMiB, r.longestHistoryEvents].map(cell).join(' | ')} |`,
  );
}

async function check(actual: Promise<unknown>, expected: number, what: string): Promise<void> {
  const value = await actual;
  if (value !== expected) throw new Error(`${what}: result ${String(value)} ≠ expected ${expected}`);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
