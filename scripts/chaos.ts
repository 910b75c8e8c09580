/**
 * Chaos: repeats the worker-kill scenario with random kill points.
 *
 *   npm run chaos -- --rounds 20 [--count 200] [--mode child|activity|batch] [--no-spare]
 *
 * Each round runs the crash-test job (test/crash/fixtures.ts: a fan-out of `count` keys, one
 * 100–200 ms op per key, a sum; the map in mode `mode`, default child) on a worker child process, SIGKILLs that worker when a random
 * 10–90 % of the keys are done, and checks that the run completes with the right
 * sum and that no step body ran more often than the crash explains (see runWorkerKillScenario; in
 * batch mode a batch in flight at the kill re-runs all of its keys or none, finished batches never).
 * Worker B runs next to A from the start (a deployment with more than one worker; `--no-spare`: B
 * starts only after the kill, which adds its ~2–5 s start-up to every recovery figure).
 *
 * Recovery, per round and as medians: kill → first progress (the first of A's orphans moved again: a
 * step A was running restarted, or a workflow task left A's sticky queue), kill → all of A's orphans
 * resumed, and kill → run finished. Starts its own dev server; exits 1 if any round failed.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../src/server/devServer.ts';
import { interpreterBundle } from '../src/worker/createWorker.ts';
import { CRASH_MODES, type CrashMode, isCrashMode } from '../test/crash/fixtures.ts';
import { removeTempDir, runWorkerKillScenario, tempLedger, type WorkerKillReport } from '../test/crash/scenario.ts';

export interface ChaosOptions {
  client: Client;
  address: string;
  bundlePath?: string;
  rounds: number;
  /** How the map runs its keys (default 'child'). */
  mode?: CrashMode;
  /** Mapped keys per round (default 200). */
  count?: number;
  /** Worker B polls next to A from the start (default true); false: B starts after the kill. */
  spareWorker?: boolean;
  /** Source of kill points (default Math.random). */
  random?: () => number;
  log?: (line: string) => void;
}

export interface ChaosRound {
  round: number;
  killAtFraction: number;
  passed: boolean;
  report?: WorkerKillReport;
  error?: string;
}

export interface ChaosOutcome {
  rounds: ChaosRound[];
  passed: number;
  failed: number;
  summary: string;
}

const MIN_KILL = 0.1;
const MAX_KILL = 0.9;

export async function runChaos(o: ChaosOptions): Promise<ChaosOutcome> {
  const random = o.random ?? Math.random;
  const log = o.log ?? ((line: string) => console.log(line));
  const rounds: ChaosRound[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    const killAtFraction = MIN_KILL + random() * (MAX_KILL - MIN_KILL);
    try {
      const report = await runWorkerKillScenario({
        client: o.client,
        address: o.address,
        mode: o.mode ?? 'child',
        count: o.count ?? 200,
        killAtFraction,
        spareWorker: o.spareWorker ?? true,
        ...(o.bundlePath ? { bundlePath: o.bundlePath } : {}),
      });
      const passed = report.violations.length === 0;
      rounds.push({ round, killAtFraction, passed, report });
      log(roundLine(round, o.rounds, killAtFraction, report));
      for (const v of report.violations.slice(0, 10)) log(`    ✗ ${v}`);
    } catch (err) {
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      rounds.push({ round, killAtFraction, passed: false, error });
      log(`round ${round}/${o.rounds}: kill at ${pct(killAtFraction)} · FAIL (error)\n    ${error.split('\n').join('\n    ')}`);
    }
  }
  const passed = rounds.filter((r) => r.passed).length;
  return { rounds, passed, failed: rounds.length - passed, summary: summaryLine(rounds, o.mode ?? 'child') };
}

function pct(f: number): string {
  return `${Math.round(f * 100)}%`;
}

function secs(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(1)}s`;
}

function roundLine(round: number, of: number, target: number, r: WorkerKillReport): string {
  const reRun = Object.keys(r.reExecuted).length;
  const batches = r.batches.length
    ? `batches at the kill: ${r.batches.filter((b) => b.state === 'recorded').length} recorded, ${r.batches.filter((b) => b.state === 'in flight').length} in flight ` +
      `(${r.batches.filter((b) => b.state === 'in flight' && b.attempt > 1).length} re-run), ${r.batches.filter((b) => b.state === 'not started').length} not started · `
    : '';
  return (
    `round ${round}/${of} (${r.mode}): kill target ${pct(target)} → killed at ${r.doneAtKillSignal}/${r.count} done ` +
    `(${secs(r.timings.toKillMs)} after launch; A finished ${r.doneBeforeKill.length}, ${r.recordedBeforeKill.length} recorded by the server) · ` +
    `in flight ${r.inFlightAtKill.length} · ${batches}re-executed ${reRun} step(s) [${r.doneButReRun.length} done-but-unreported] · ` +
    `work starts ${r.totalWorkStarts} · worker B ${r.timings.restartMs === 0 ? 'spare' : `ready +${secs(r.timings.restartMs)}`}, first retry +${secs(r.timings.firstInFlightRetryMs)}, longest stall ${secs(r.longestGapAfterRestartMs)} · ` +
    `timed-out workflow tasks: job ${r.workflowTaskTimeouts.job.at.length}, children ${r.workflowTaskTimeouts.children} in ${r.workflowTaskTimeouts.childrenAffected} (${r.workflowTaskTimeouts.childrenStartToClose} started by A: 10 s) · ` +
    `first progress +${secs(r.timings.firstProgressMs)}, all resumed +${secs(r.timings.allResumedMs)}, finished +${secs(r.timings.recoveryMs)} · total ${secs(r.timings.totalMs)} · sum ${r.result?.sum ?? '–'} · ` +
    (r.violations.length === 0 ? 'PASS' : `FAIL (${r.violations.length} violation(s))`)
  );
}

function summaryLine(rounds: readonly ChaosRound[], mode: CrashMode): string {
  const reports = rounds.flatMap((r) => (r.report ? [r.report] : []));
  const passed = rounds.filter((r) => r.passed).length;
  const kills = reports.map((r) => r.doneAtKillSignal / r.count);
  const reRuns = reports.map((r) => Object.keys(r.reExecuted).length);
  const sorted = (pick: (r: WorkerKillReport) => number | undefined) =>
    reports.flatMap((r) => (pick(r) === undefined ? [] : [pick(r) as number])).sort((a, b) => a - b);
  const medianOf = (xs: number[]) =>
    xs.length
      ? xs.length % 2
        ? xs[(xs.length - 1) / 2]
        : ((xs[xs.length / 2 - 1] as number) + (xs[xs.length / 2] as number)) / 2
      : undefined;
  const first = sorted((r) => r.timings.firstProgressMs);
  const all = sorted((r) => r.timings.allResumedMs);
  const recoveries = sorted((r) => r.timings.recoveryMs);
  const stats = (xs: number[]) => (xs.length ? `${Math.min(...xs)}–${Math.max(...xs)} (total ${xs.reduce((s, x) => s + x, 0)})` : '–');
  return (
    `chaos (${mode} mode): ${passed}/${rounds.length} rounds passed · kill points ${kills.length ? `${pct(Math.min(...kills))}–${pct(Math.max(...kills))}` : '–'} · ` +
    `re-executed steps per round ${stats(reRuns)} · done-but-unreported re-runs ${reports.reduce((s, r) => s + r.doneButReRun.length, 0)} · ` +
    `after the kill, medians (max): first progress ${secs(medianOf(first))} (${secs(first[first.length - 1])}), ` +
    `all of A's work resumed ${secs(medianOf(all))} (${secs(all[all.length - 1])}), run finished ${secs(medianOf(recoveries))} (${secs(recoveries[recoveries.length - 1])})`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      count: { type: 'string', default: '200' },
      mode: { type: 'string', default: 'child' },
      spare: { type: 'boolean', default: true },
    },
    allowNegative: true,
  });
  const rounds = Number(values.rounds);
  const count = Number(values.count);
  const mode = values.mode;
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(count) || count < 2 || !isCrashMode(mode)) {
    console.error(`usage: npm run chaos -- [--rounds N] [--count KEYS] [--mode ${CRASH_MODES.join('|')}] [--no-spare]`);
    process.exit(2);
  }
  const started = Date.now();
  const server = await startDevServer({ onNotice: (m) => console.error(`[chaos] ${m}`) });
  const scratch = tempLedger('chaos-bundle');
  const bundlePath = join(dirname(scratch), 'workflow-bundle.js');
  writeFileSync(bundlePath, (await interpreterBundle()).code);
  const connection = await Connection.connect({ address: server.address });
  console.log(
    `[chaos] dev server ${server.address} (pid ${server.pid}); ${rounds} round(s) of ${count} keys, ${mode} mode, ${values.spare ? 'a spare worker B next to A' : 'worker B started after the kill'}`,
  );
  let outcome: ChaosOutcome;
  try {
    outcome = await runChaos({
      client: new Client({ connection }),
      address: server.address,
      bundlePath,
      rounds,
      count,
      mode,
      spareWorker: values.spare,
    });
  } finally {
    await connection.close();
    await server.stop();
    removeTempDir(scratch);
  }
  console.log(`${outcome.summary} · wall time ${secs(Date.now() - started)}`);
  process.exit(outcome.failed > 0 ? 1 : 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
