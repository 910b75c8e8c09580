/**
 * `npm run bench [-- --only fanout,letters,dagster,scale] [--repeat 3] [--fanout-keys 2000]
 *   [--dagster-multiprocess-keys 50] [--scale-keys 100000] [--servers dev,cluster] [--address host:port]`
 *
 * Benchmarks (not timed tests). One invocation produces every row it prints: each system runs `--repeat`
 * times, the systems of a bench taking turns (A B C, A B C, …) so that a change in the machine's load
 * touches them all alike, and each row is the median of its runs, with every run's time and the 1-minute
 * load average before it. The header names the command, the commit and the load average; the rows go to
 * bench/results/latest.json. bench/RESULTS.md and the README's performance table are copied from this output.
 *
 * - fanout: N = 2,000 trivial keys (fan-out → x+1 per key → sum) on a hand-written Temporal baseline and on
 *   opgraph in each mode; with `dagster`, the same job on Dagster's in-process executor (same N) and its
 *   multiprocess executor (a Python process per step: `--dagster-multiprocess-keys`, default 50, compared
 *   per key).
 * - letters: the seed's letters job (26 keys × 1 s sleep), submit to result: opgraph on a fresh worker and
 *   on a warm one; with `dagster`, Dagster in-process and multiprocess.
 * - scale: 100,000 keys (batch, activity) and 10,000 (child): time, peak RSS, longest history (long: not in the
 *   default `--only`).
 * `--servers` runs the Temporal benches on each server in turn: `dev` (a fresh dev server), `cluster` (a fresh
 * `opgraph cluster`: the Temporal server on PostgreSQL), `address` (`--address` or TEMPORAL_ADDRESS). Default:
 * TEMPORAL_ADDRESS when set, else a dev server. Dagster runs once, beside the first server.
 * `--fanout-modes` picks the Temporal fan-out rows (baseline,child,activity,batch).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { dynamicOutputs } from '../examples/letters.ts';
import { benchEnv, type BenchEnv, type BenchServerKind, longestHistory, runBaseline, runOpgraph, runOpgraphSeries } from './common.ts';
import { runDagsterBench } from './dagster.ts';
import { expectedSum, fanOutJob, keysConfig } from './jobs.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'fanout,letters,dagster' },
    repeat: { type: 'string', default: '3' },
    'fanout-keys': { type: 'string', default: '2000' },
    'dagster-multiprocess-keys': { type: 'string', default: '50' },
    'scale-keys': { type: 'string', default: '100000' },
    'child-scale-keys': { type: 'string', default: '10000' },
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
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a positive integer, got "${values.repeat}"`);
const fanoutModes = new Set((values['fanout-modes'] ?? '').split(','));
const only = new Set((values.only ?? '').split(','));

/** One timed run of one system: its seconds, and figures beside them (peak RSS, history length). */
interface Sample {
  system: string;
  seconds: number;
  extra?: Record<string, number>;
}

/** A system in a bench: `run` performs one run and returns its sample(s) (letters times a fresh and a warm worker in one go). */
interface Contender {
  bench: string;
  server?: string;
  keys: number;
  run(): Promise<Sample[]>;
}

interface Row {
  bench: string;
  server?: string;
  system: string;
  keys: number;
  /** Median of `runs`. */
  seconds: number;
  keysPerSecond: number;
  runs: number[];
  /** 1-minute load average before each run. */
  loadBefore: number[];
  extra: Record<string, number>;
}

const rows: Row[] = [];
const header = {
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  commit: gitCommit(),
  startedAt: new Date().toISOString(),
  loadAverageBefore: loadavg().map(round),
  repeat,
};
console.log(
  `${header.command} — commit ${header.commit}, ${header.startedAt}, load average ${header.loadAverageBefore.join(' / ')}, ${repeat} alternating runs per system`,
);

/** Runs the contenders `repeat` times in turn and records one row per system: the median of its runs. */
async function measure(contenders: Contender[]): Promise<void> {
  const samples = new Map<
    string,
    { contender: Contender; system: string; runs: number[]; loads: number[]; extras: Record<string, number>[] }
  >();
  for (let r = 0; r < repeat; r++) {
    for (const contender of contenders) {
      const load = loadavg()[0] ?? NaN;
      for (const sample of await contender.run()) {
        const key = `${contender.bench}|${contender.server ?? ''}|${sample.system}`;
        const entry = samples.get(key) ?? { contender, system: sample.system, runs: [], loads: [], extras: [] };
        entry.runs.push(sample.seconds);
        entry.loads.push(load);
        entry.extras.push(sample.extra ?? {});
        samples.set(key, entry);
        console.error(
          `[bench] ${contender.bench}${contender.server ? ` on ${contender.server}` : ''}, ${sample.system}, run ${r + 1}/${repeat}: ${sample.seconds.toFixed(2)} s (load ${load.toFixed(2)})`,
        );
      }
    }
  }
  for (const { contender, system, runs, loads, extras } of samples.values()) {
    const seconds = median(runs);
    const extra: Record<string, number> = {};
    for (const name of new Set(extras.flatMap((e) => Object.keys(e)))) extra[name] = median(extras.map((e) => e[name] ?? NaN));
    const row: Row = {
      bench: contender.bench,
      ...(contender.server ? { server: contender.server } : {}),
      system,
      keys: contender.keys,
      seconds: round(seconds),
      keysPerSecond: round(contender.keys / seconds),
      runs: runs.map(round),
      loadBefore: loads.map(round),
      extra,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}

function opgraphFanout(env: BenchEnv, n: number): Contender[] {
  const server = env.kind;
  const contenders: Contender[] = [];
  if (fanoutModes.has('baseline')) {
    contenders.push({
      bench: 'fanout',
      server,
      keys: n,
      run: async () => {
        const baseline = await runBaseline(env, n);
        if (baseline.sum !== expectedSum(n)) throw new Error(`baseline sum ${baseline.sum} ≠ ${expectedSum(n)}`);
        return [{ system: 'temporal-baseline', seconds: baseline.seconds }];
      },
    });
  }
  for (const [mode, options] of [
    ['child', { mode: 'child' }],
    ['activity', { mode: 'activity' }],
    ['batch', { mode: 'batch', batchSize: 100 }],
  ] as const) {
    if (!fanoutModes.has(mode)) continue;
    contenders.push({
      bench: 'fanout',
      server,
      keys: n,
      run: async () => {
        const run = await runOpgraph(env, fanOutJob(`bench_fanout_${mode}`, options), keysConfig(n));
        await check(run.result.outputFor('bench_sum'), expectedSum(n), `fanout ${mode}`);
        return [{ system: `opgraph-${mode}`, seconds: run.seconds }];
      },
    });
  }
  return contenders;
}

function dagsterFanout(n: number, multiprocessKeys: number): Contender[] {
  return [
    { executor: 'in_process', keys: n },
    { executor: 'multiprocess', keys: multiprocessKeys },
  ].map(({ executor, keys }) => ({
    bench: 'fanout',
    keys,
    run: async () => {
      const run = await runDagsterBench('fanout2000', { keys, executor: executor as 'in_process' | 'multiprocess' });
      return [{ system: `dagster-${run.version}-${executor.replace('_', '-')}`, seconds: run.seconds }];
    },
  }));
}

function opgraphLetters(env: BenchEnv): Contender {
  return {
    bench: 'letters',
    server: env.kind,
    keys: 26,
    // A fresh worker's first run (its first workflow tasks evaluate the interpreter bundle), then a warm run.
    run: async () => {
      const [fresh = NaN, warm = NaN] = (await runOpgraphSeries(env, dynamicOutputs, 2)).seconds;
      return [
        { system: 'opgraph-child (warm worker)', seconds: warm },
        { system: 'opgraph-child (fresh worker)', seconds: fresh },
      ];
    },
  };
}

function dagsterLetters(): Contender[] {
  return (['in_process', 'multiprocess'] as const).map((executor) => ({
    bench: 'letters',
    keys: 26,
    run: async () => {
      const run = await runDagsterBench('letters', { executor });
      return [{ system: `dagster-${run.version}-${executor.replace('_', '-')}`, seconds: run.seconds }];
    },
  }));
}

function opgraphScale(env: BenchEnv): Contender[] {
  const big = Number(values['scale-keys']);
  const childKeys = Number(values['child-scale-keys']);
  const modes = (values['scale-modes'] ?? '').split(',');
  return (
    [
      ['batch', big, { mode: 'batch', batchSize: 100 }],
      ['activity', big, { mode: 'activity' }],
      ['child', childKeys, { mode: 'child' }],
    ] as const
  )
    .filter(([mode]) => modes.includes(mode))
    .map(([mode, n, options]) => ({
      bench: 'scale',
      server: env.kind,
      keys: n,
      run: async () => {
        const run = await runOpgraph(env, fanOutJob(`bench_scale_${mode}`, options), keysConfig(n));
        await check(run.result.outputFor('bench_sum'), expectedSum(n), `scale ${mode}`);
        const history = await longestHistory(env, run.workflowId);
        return [
          {
            system: `opgraph-${mode}`,
            seconds: run.seconds,
            extra: { peakRssMiB: run.peakRssMiB, longestHistoryEvents: history.events, workflows: history.workflows },
          },
        ];
      },
    }));
}

async function benchOn(kind: BenchServerKind | undefined, first: boolean): Promise<void> {
  const env = await benchEnv(kind, values.address);
  try {
    if (env.cluster) {
      const { timings } = env.cluster;
      console.log(
        `server: temporal-server ${env.cluster.version}, ${env.cluster.numHistoryShards} history shards, PostgreSQL ${env.cluster.postgres.major}; started in ${timings.total.toFixed(1)} s (PostgreSQL ${timings.postgres.toFixed(1)} s, schema ${timings.schema.toFixed(1)} s, server ${timings.server.toFixed(1)} s)`,
      );
    }
    const withDagster = only.has('dagster') && first;
    const n = Number(values['fanout-keys']);
    if (only.has('fanout')) {
      await measure([...opgraphFanout(env, n), ...(withDagster ? dagsterFanout(n, Number(values['dagster-multiprocess-keys'])) : [])]);
    }
    if (only.has('letters')) await measure([opgraphLetters(env), ...(withDagster ? dagsterLetters() : [])]);
    if (only.has('scale')) await measure(opgraphScale(env));
  } finally {
    await env.close();
  }
}

const kinds = servers.length > 0 ? (servers as BenchServerKind[]) : [undefined];
for (const [i, kind] of kinds.entries()) await benchOn(kind, i === 0);

const loadAverageAfter = loadavg().map(round);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/latest.json', import.meta.url),
  `${JSON.stringify({ ...header, finishedAt: new Date().toISOString(), loadAverageAfter, rows }, null, 2)}\n`,
);
printTable();

/** The markdown table RESULTS.md and the README copy: medians, every run, ratios against the strongest alternatives. */
function printTable(): void {
  console.log(
    `\n${header.command} — commit ${header.commit}; load average ${header.loadAverageBefore.join(' / ')} before, ${loadAverageAfter.join(' / ')} after; median of ${repeat} alternating runs\n`,
  );
  console.log(
    '| bench | server | system | keys | median s | keys/s | runs (s) | load before each run | vs baseline | vs Dagster in-process |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    const baseline = rows.find((r) => r.bench === row.bench && r.server === row.server && r.system === 'temporal-baseline');
    const dagster = rows.find((r) => r.bench === row.bench && /^dagster-.*-in-process$/.test(r.system));
    // Per key for fan-outs (the keys differ for Dagster multiprocess); whole runs for letters.
    const speed = (r: Row) => (r.bench === 'letters' ? 1 / r.seconds : r.keysPerSecond);
    const ratio = (other: Row | undefined) => (other && other !== row ? `${(speed(row) / speed(other)).toFixed(2)} ×` : '');
    const extra = Object.entries(row.extra)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(
      `| ${row.bench} | ${row.server ?? '—'} | ${row.system}${extra ? ` (${extra})` : ''} | ${row.keys} | ${row.seconds} | ${row.keysPerSecond} | ${row.runs.join(', ')} | ${row.loadBefore.join(', ')} | ${ratio(baseline)} | ${ratio(dagster)} |`,
    );
  }
}

async function check(actual: Promise<unknown>, expected: number, what: string): Promise<void> {
  const value = await actual;
  if (value !== expected) throw new Error(`${what}: result ${String(value)} ≠ expected ${expected}`);
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function gitCommit(): string {
  try {
    const hash = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty =
      execSync('git status --porcelain', { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim() !== '';
    return dirty ? `${hash} (with uncommitted changes)` : hash;
  } catch {
    return 'unknown';
  }
}
