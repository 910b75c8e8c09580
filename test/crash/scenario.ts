/**
 * Shared machinery of the crash tests and `npm run chaos`: worker child processes, the ledger
 * watch, the worker-kill scenario and its analysis (what the ledger and the server's histories say
 * about which step bodies ran how often).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { awaitRun, launchRun, type LaunchedRun } from '../../src/client/run.ts';
import type { JobResult } from '../../src/client/result.ts';
import {
  countByStep,
  CRASH_BATCH_SIZE,
  type CrashMode,
  crashJobs,
  crashRunConfig,
  expectedTotal,
  FAN_OUT,
  type LedgerLine,
  readLedger,
  TOTAL,
  type Total,
  WORK,
  workDoneCount,
} from './fixtures.ts';

const WORKER_SCRIPT = fileURLToPath(new URL('./workerProcess.ts', import.meta.url));
/** `node --import tsx` resolves tsx from the working directory: the repository root. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------

export interface WorkerProcessOptions {
  address: string;
  taskQueue: string;
  /** A prebuilt interpreter bundle (workers then start in about a second). */
  bundlePath?: string;
  maxActivities?: number;
  readyTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class WorkerProcess {
  private lines: string[] = [];
  private exitInfo: ExitInfo | undefined;
  readonly exited: Promise<ExitInfo>;

  private constructor(readonly child: ChildProcess) {
    const keep = (chunk: string) => {
      this.lines.push(...chunk.split('\n').filter(Boolean));
      if (this.lines.length > 200) this.lines = this.lines.slice(-200);
    };
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Undefined while the process runs. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  output(): string {
    return this.lines.join('\n');
  }

  static async start(o: WorkerProcessOptions): Promise<WorkerProcess> {
    const args = ['--import', 'tsx', WORKER_SCRIPT, '--address', o.address, '--task-queue', o.taskQueue];
    if (o.bundlePath) args.push('--bundle', o.bundlePath);
    if (o.maxActivities) args.push('--max-activities', String(o.maxActivities));
    // stdin stays a pipe: the worker exits when it closes, i.e. when this process dies.
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OPGRAPH_LOG_LEVEL: 'ERROR' },
    });
    const proc = new WorkerProcess(child);
    live.add(proc);
    const timeoutMs = o.readyTimeoutMs ?? 120_000;
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => {
        const onData = (chunk: string) => {
          if (/^READY \d+/m.test(chunk)) {
            child.stdout?.off('data', onData);
            resolve(true);
          }
        };
        child.stdout?.on('data', onData);
      }),
      proc.exited.then(() => false),
      sleep(timeoutMs, false),
    ]);
    if (!ready) {
      await proc.kill('SIGKILL');
      throw new Error(`worker process did not print READY within ${timeoutMs} ms (exit: ${JSON.stringify(proc.exit)}):\n${proc.output()}`);
    }
    return proc;
  }

  /** Sends `signal` and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    if (!this.exitInfo) this.child.kill(signal);
    return this.exited;
  }

  /** SIGTERM (graceful worker shutdown), SIGKILL if still alive after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exitInfo) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs, false)]);
    if (!done) await this.kill('SIGKILL');
  }
}

/** Workers this process started and that still run: killed (by pid) if we exit first. */
const live = new Set<WorkerProcess>();
process.on('exit', () => {
  for (const proc of live) proc.child.kill('SIGKILL');
});

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** awaitRun with a deadline; the error carries `diagnose()` so a hang explains itself. */
export async function awaitRunWithin(run: LaunchedRun, timeoutMs: number, diagnose: () => string): Promise<JobResult> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      awaitRun(run),
      sleep(timeoutMs, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`run ${run.workflowId} did not finish within ${timeoutMs} ms\n${diagnose()}`);
      }),
    ]);
  } finally {
    timer.abort();
  }
}

/** A ledger path in a fresh temporary directory. */
export function tempLedger(prefix: string): string {
  return join(mkdtempSync(join(tmpdir(), `opgraph-${prefix}-`)), 'ledger.txt');
}

/** Removes the temporary directory of a tempLedger() path (and whatever else was put there). */
export function removeTempDir(ledger: string): void {
  rmSync(dirname(ledger), { recursive: true, force: true });
}

export function ledgerSummary(lines: readonly LedgerLine[]): string {
  const counts = countByStep(lines);
  const work = [...counts].filter(([k]) => k.startsWith(`${WORK}[`));
  return (
    `ledger: ${lines.length} lines; ${work.length} work steps started, ${workDoneCount(lines)} done; ` +
    `fan-out starts ${counts.get(FAN_OUT)?.starts ?? 0} dones ${counts.get(FAN_OUT)?.dones ?? 0}; ` +
    `total starts ${counts.get(TOTAL)?.starts ?? 0} dones ${counts.get(TOTAL)?.dones ?? 0}`
  );
}

// ---------------------------------------------------------------------------
// Server-side truth: per mapped step, the attempt that completed and when the server recorded it
// ---------------------------------------------------------------------------

/** Workflow tasks that timed out in a history: left on a dead worker's sticky queue, or started by it. */
export interface WorkflowTaskTimeouts {
  scheduleToStart: number;
  startToClose: number;
  /** Server times (ms) of the WorkflowTaskTimedOut events. */
  at: number[];
}

export function workflowTaskTimeouts(
  history: Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>,
): WorkflowTaskTimeouts {
  const out: WorkflowTaskTimeouts = { scheduleToStart: 0, startToClose: 0, at: [] };
  for (const event of history.events ?? []) {
    const timedOut = event.workflowTaskTimedOutEventAttributes;
    if (!timedOut) continue;
    // TimeoutType: 1 = START_TO_CLOSE, 2 = SCHEDULE_TO_START.
    if (Number(timedOut.timeoutType) === 2) out.scheduleToStart++;
    else out.startToClose++;
    out.at.push(tsToMs(event.eventTime));
  }
  return out;
}

export async function jobWorkflowTaskTimeouts(client: Client, run: LaunchedRun): Promise<WorkflowTaskTimeouts> {
  return workflowTaskTimeouts(await client.workflow.getHandle(run.workflowId).fetchHistory());
}

export interface RecordedActivity {
  /** Temporal's attempt number of the attempt that completed (1 = never retried). */
  attempt: number;
  /** Server time (ms) at which the completion was recorded. */
  completedAt: number;
  workflowTaskTimeouts: number;
  /** Server times (ms) of those timeouts (a task left a dead worker's sticky queue, or one it had started timed out). */
  workflowTaskTimeoutsAt?: number[];
  /** …of which tasks the worker had started (timed out after the workflow task timeout, 10 s). */
  workflowTaskStartToCloseTimeouts?: number;
}

/** Reads each mapped key's child workflow history (`<job wf id>/crash_fan_out[<key>]`). */
export async function recordedWorkActivities(
  client: Client,
  run: LaunchedRun,
  keys: readonly string[],
): Promise<Map<string, RecordedActivity>> {
  const out = new Map<string, RecordedActivity>();
  let next = 0;
  const lane = async () => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      const history = await client.workflow.getHandle(`${run.workflowId}/${FAN_OUT}[${key}]`).fetchHistory();
      let attempt = 0;
      let completedAt = Number.NaN;
      for (const event of history.events ?? []) {
        const started = event.activityTaskStartedEventAttributes;
        if (started) attempt = started.attempt ?? 0;
        if (event.activityTaskCompletedEventAttributes) completedAt = tsToMs(event.eventTime);
      }
      const timeouts = workflowTaskTimeouts(history);
      out.set(`${WORK}[${key}]`, {
        attempt,
        completedAt,
        workflowTaskTimeouts: timeouts.at.length,
        workflowTaskTimeoutsAt: timeouts.at,
        workflowTaskStartToCloseTimeouts: timeouts.startToClose,
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return out;
}

/** One activity of the job workflow's own history: the attempt that closed it and when it completed. */
export interface RecordedJobActivity {
  activityId: string;
  attempt: number;
  /** Server time (ms) of the completion; NaN if it never completed. */
  completedAt: number;
}

/** Activity and batch modes: the job workflow's activities (work steps, or batches of them), by activity id. */
export async function recordedJobActivities(client: Client, run: LaunchedRun): Promise<Map<string, RecordedJobActivity>> {
  const history = await client.workflow.getHandle(run.workflowId).fetchHistory();
  const byScheduled = new Map<string, RecordedJobActivity>();
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) byScheduled.set(String(event.eventId), { activityId: scheduled.activityId ?? '', attempt: 0, completedAt: Number.NaN });
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const a = byScheduled.get(String(started.scheduledEventId));
      if (a) a.attempt = started.attempt ?? 0;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const a = byScheduled.get(String(completed.scheduledEventId));
      if (a) a.completedAt = tsToMs(event.eventTime);
    }
  }
  return new Map([...byScheduled.values()].map((a) => [a.activityId, a]));
}

/** Where a batch (mode 'batch') stood when worker A was killed. */
export type BatchState = 'recorded' | 'in flight' | 'not started';

export interface BatchAtKill {
  index: number;
  steps: string[];
  /** recorded: the server had its completion before the kill; in flight: A had started keys of it; not started: A had not. */
  state: BatchState;
  /** Temporal's attempt number of the attempt that completed. */
  attempt: number;
  completedAt: number;
  /** Per key (same order as steps): body starts in the killed worker, and after the kill. */
  startsByA: number[];
  startsAfterKill: number[];
}

// ---------------------------------------------------------------------------
// The worker-kill scenario
// ---------------------------------------------------------------------------

export interface WorkerKillOptions {
  client: Client;
  /** How the map runs its keys (default 'child': `crash_job`). */
  mode?: CrashMode;
  address: string;
  bundlePath?: string;
  /** Mapped keys (default 200). */
  count?: number;
  /** Kill worker A once this fraction of the keys have a `done` line (default 0.5). */
  killAtFraction?: number;
  /** Whole-run deadline after the kill (default 180 s). */
  timeoutMs?: number;
  /**
   * Start worker B next to A before the run (a deployment with more than one worker: `opgraph worker
   * --processes n`) instead of after the kill; B then carries on with A's work alone. Default false.
   */
  spareWorker?: boolean;
  log?: (message: string) => void;
}

export interface WorkerKillReport {
  workflowId: string;
  mode: CrashMode;
  /** Batch mode: each batch's state at the kill and its keys' starts before / after it. */
  batches: BatchAtKill[];
  /** Wall-clock time (epoch ms) the SIGKILL was sent. */
  killedAt: number;
  count: number;
  killAtFraction: number;
  /** Distinct work steps with a `done` line when SIGKILL was sent / after the process was gone. */
  doneAtKillSignal: number;
  /** Steps the killed worker had finished (a `done` line from its pid). */
  doneBeforeKill: string[];
  /** …of which the server had recorded the completion before the kill. */
  recordedBeforeKill: string[];
  /** Steps the killed worker had started but not finished. */
  inFlightAtKill: string[];
  /** Steps whose body started more than once, with their start counts. */
  reExecuted: Record<string, number>;
  /** Steps done by the killed worker whose body ran again (completion not yet reported when killed). */
  doneButReRun: string[];
  /** Starts of the work op summed over all steps (count + re-executions). */
  totalWorkStarts: number;
  /** `start` lines per work step over the whole run. */
  starts: Record<string, number>;
  /** Longest pause between two ledger lines after worker B was ready (a stalled recovery shows here). */
  longestGapAfterRestartMs: number;
  /** Workflow tasks that timed out (the killed worker's sticky queue / in-progress tasks): job workflow, and summed over the per-key children. */
  workflowTaskTimeouts: { job: WorkflowTaskTimeouts; children: number; childrenStartToClose: number; childrenAffected: number };
  /** Every problem found; empty = the round passed. */
  violations: string[];
  result: Total | undefined;
  timings: {
    /** Launch → SIGKILL. */
    toKillMs: number;
    /** SIGKILL → worker B printed READY. */
    restartMs: number;
    /** SIGKILL → first body start in worker B / first re-start of a step that was in flight at the kill. */
    firstStartAfterKillMs: number | undefined;
    firstInFlightRetryMs: number | undefined;
    /**
     * SIGKILL → the killed worker's work moved again: the first / the last of its orphans resumed. An
     * orphan is a step it was running (or had finished without reporting), resumed when the step's body
     * starts again, or a workflow task on its sticky queue, resumed when the server times it out there
     * and hands it to another worker (a WorkflowTaskTimedOut event). Undefined when there was none.
     */
    firstProgressMs: number | undefined;
    allResumedMs: number | undefined;
    /** SIGKILL → run finished. */
    recoveryMs: number;
    totalMs: number;
  };
}

/**
 * Runs the crash job on worker process A, SIGKILLs A when `killAtFraction` of the keys are done,
 * starts worker B, waits for the run, and checks the ledger against the result and the server.
 */
export async function runWorkerKillScenario(o: WorkerKillOptions): Promise<WorkerKillReport> {
  const count = o.count ?? 200;
  const mode = o.mode ?? 'child';
  const killAtFraction = o.killAtFraction ?? 0.5;
  const log = o.log ?? (() => {});
  const taskQueue = `crash-${randomUUID()}`;
  const ledger = tempLedger('worker-kill');
  const workers: WorkerProcess[] = [];
  try {
    const a = await WorkerProcess.start({ address: o.address, taskQueue, bundlePath: o.bundlePath });
    workers.push(a);
    const spare = o.spareWorker ? await WorkerProcess.start({ address: o.address, taskQueue, bundlePath: o.bundlePath }) : undefined;
    if (spare) workers.push(spare);
    const started = Date.now();
    const run = await launchRun(o.client, crashJobs[mode], { runConfig: crashRunConfig({ ledger, count }), taskQueue });
    const target = Math.max(1, Math.min(count - 1, Math.round(count * killAtFraction)));
    // Child mode: as before. Activity and batch modes run keys in bursts (a window, a batch): also wait
    // until some key is running, so the kill always hits a step (a batch) in flight.
    const ready = (lines: readonly LedgerLine[]) =>
      workDoneCount(lines) >= target &&
      (mode === 'child' || [...countByStep(lines)].some(([k, c]) => k.startsWith(`${WORK}[`) && c.starts > c.dones));
    await waitFor(`${target}/${count} work steps done (worker A pid ${a.pid})`, () => ready(readLedger(ledger)), 180_000);
    const killedAt = Date.now();
    const doneAtKillSignal = workDoneCount(readLedger(ledger));
    await a.kill('SIGKILL');
    const atKill = readLedger(ledger);
    log(`killed worker A (pid ${a.pid}) at ${doneAtKillSignal}/${count} done, ${killedAt - started} ms after launch`);

    const b = spare ?? (await WorkerProcess.start({ address: o.address, taskQueue, bundlePath: o.bundlePath }));
    if (!spare) workers.push(b);
    const restartMs = spare ? 0 : Date.now() - killedAt;
    const result = await awaitRunWithin(run, o.timeoutMs ?? 180_000, () => ledgerSummary(readLedger(ledger)));
    const finishedAt = Date.now();
    const lines = readLedger(ledger);

    const violations: string[] = [];
    let total: Total | undefined;
    if (!result.success) violations.push(`run failed: ${JSON.stringify(result.failures.slice(0, 5))} ${JSON.stringify(result.runError)}`);
    else {
      total = (await result.outputFor(TOTAL)) as Total;
      const expected = expectedTotal(count);
      if (JSON.stringify(total) !== JSON.stringify(expected)) {
        violations.push(
          `crash_total returned sum ${total.sum} / count ${total.count} / ${total.keys.length} keys; expected ${expected.sum} / ${expected.count} in yield order`,
        );
      }
    }

    const ofA = countByStep(atKill, (l) => l.pid === a.pid);
    const all = countByStep(lines);
    const keys = expectedTotal(count).keys;
    const workSteps = keys.map((k) => `${WORK}[${k}]`);
    const doneBeforeKill = workSteps.filter((s) => (ofA.get(s)?.dones ?? 0) > 0);
    const inFlightAtKill = workSteps.filter((s) => (ofA.get(s)?.starts ?? 0) > 0 && (ofA.get(s)?.dones ?? 0) === 0);
    const ofB = countByStep(lines, (l) => l.pid !== a.pid);
    const batches: BatchAtKill[] = [];
    let recorded: Map<string, RecordedActivity>;
    if (mode === 'child') recorded = await recordedWorkActivities(o.client, run, keys);
    else {
      const activities = await recordedJobActivities(o.client, run);
      recorded = new Map();
      if (mode === 'activity') {
        for (const step of workSteps) {
          const act = activities.get(step);
          recorded.set(step, { attempt: act?.attempt ?? 0, completedAt: act?.completedAt ?? Number.NaN, workflowTaskTimeouts: 0 });
        }
      } else {
        // Batch ids: `crash_fan_out[batch_<i>:<first key>..<last key>]`; batch i holds keys [i·size, (i+1)·size).
        for (const act of activities.values()) {
          const m = /\[batch_(\d+):/.exec(act.activityId);
          if (!m) continue;
          const index = Number(m[1]);
          const steps = workSteps.slice(index * CRASH_BATCH_SIZE, (index + 1) * CRASH_BATCH_SIZE);
          for (const step of steps) recorded.set(step, { attempt: act.attempt, completedAt: act.completedAt, workflowTaskTimeouts: 0 });
          const startsByA = steps.map((s) => ofA.get(s)?.starts ?? 0);
          const state: BatchState = act.completedAt < killedAt ? 'recorded' : startsByA.some((n) => n > 0) ? 'in flight' : 'not started';
          batches.push({
            index,
            steps,
            state,
            attempt: act.attempt,
            completedAt: act.completedAt,
            startsByA,
            startsAfterKill: steps.map((s) => ofB.get(s)?.starts ?? 0),
          });
        }
        batches.sort((x, y) => x.index - y.index);
        if (batches.length !== Math.ceil(count / CRASH_BATCH_SIZE))
          violations.push(`${batches.length} batch activities in the job history; expected ${Math.ceil(count / CRASH_BATCH_SIZE)}`);
      }
    }
    const recordedBeforeKill = doneBeforeKill.filter((s) => (recorded.get(s)?.completedAt ?? Infinity) < killedAt);

    const reExecuted: Record<string, number> = {};
    const startsPerStep: Record<string, number> = {};
    let totalWorkStarts = 0;
    for (const step of workSteps) {
      const starts = all.get(step)?.starts ?? 0;
      startsPerStep[step] = starts;
      const dones = all.get(step)?.dones ?? 0;
      totalWorkStarts += starts;
      if (starts > 1) reExecuted[step] = starts;
      if (dones < 1) violations.push(`${step} never finished (starts ${starts}, dones ${dones})`);
      const attempt = recorded.get(step)?.attempt ?? 0;
      if (starts > attempt)
        violations.push(`${step} ran ${starts} times but Temporal recorded attempt ${attempt}: a body ran that Temporal did not dispatch`);
    }
    for (const step of recordedBeforeKill) {
      const starts = all.get(step)?.starts ?? 0;
      if (starts !== 1) violations.push(`${step} was done and recorded by the server before the kill, yet started ${starts} times`);
    }
    const doneButReRun = doneBeforeKill.filter((s) => (all.get(s)?.starts ?? 0) > 1);
    for (const step of doneButReRun) {
      const starts = all.get(step)?.starts ?? 0;
      if (starts > 2)
        violations.push(`${step} (done before the kill, completion not yet recorded) started ${starts} times (at most twice expected)`);
    }
    for (const step of inFlightAtKill) {
      const starts = all.get(step)?.starts ?? 0;
      if (starts > 2) violations.push(`${step} was in flight at the kill and started ${starts} times (at most once more expected)`);
    }
    for (const step of Object.keys(reExecuted)) {
      if (!doneBeforeKill.includes(step) && !inFlightAtKill.includes(step)) {
        violations.push(`${step} was not running when worker A was killed, yet started ${reExecuted[step]} times`);
      }
    }
    // Batch mode: the unit of re-execution is the batch activity. A recorded batch never re-runs; a batch
    // not started at the kill runs once (in B); a batch in flight re-runs all of its keys or none of them
    // (none: its completion was on its way), once more at most, and only when Temporal retried it.
    for (const batch of batches) {
      const name = `batch ${batch.index} (${batch.state} at the kill, attempt ${batch.attempt})`;
      const after = batch.startsAfterKill;
      if (batch.state === 'recorded' && !after.every((n) => n === 0))
        violations.push(`${name} re-ran keys after the kill: ${JSON.stringify(after)}`);
      if (batch.state === 'recorded' && !batch.startsByA.every((n) => n === 1))
        violations.push(`${name}: keys started ${JSON.stringify(batch.startsByA)} times in A (once each expected)`);
      if (batch.state === 'not started' && !after.every((n) => n === 1))
        violations.push(`${name}: keys started ${JSON.stringify(after)} times after the kill (once each expected)`);
      if (batch.state === 'in flight') {
        const reRun = batch.attempt > 1 ? 1 : 0;
        if (batch.attempt > 2) violations.push(`${name}: Temporal ran it ${batch.attempt} times (at most once more expected)`);
        if (!after.every((n) => n === reRun))
          violations.push(
            `${name}: keys started ${JSON.stringify(after)} times after the kill (${reRun} each expected: the whole batch re-runs or none of it)`,
          );
        if (!batch.startsByA.every((n) => n <= 1)) violations.push(`${name}: keys started ${JSON.stringify(batch.startsByA)} times in A`);
      }
    }
    const fanOut = all.get(FAN_OUT);
    if (fanOut?.starts !== 1) violations.push(`crash_fan_out started ${fanOut?.starts ?? 0} times (it finished before the kill)`);
    const totalStarts = all.get(TOTAL)?.starts ?? 0;
    if (totalStarts !== 1) violations.push(`crash_total started ${totalStarts} times`);

    const afterKill = lines.filter((l) => l.event === 'start' && l.pid === b.pid && l.at >= killedAt);
    const firstStart = afterKill[0];
    const firstRetry = afterKill.find((l) => inFlightAtKill.includes(l.stepKey) || doneBeforeKill.includes(l.stepKey));
    const readyAt = killedAt + restartMs;
    const jobTimeouts = await jobWorkflowTaskTimeouts(o.client, run);
    const resumedAt = [
      ...afterKill.filter((l) => inFlightAtKill.includes(l.stepKey) || doneBeforeKill.includes(l.stepKey)).map((l) => l.at),
      ...[...recorded.values(), { workflowTaskTimeoutsAt: jobTimeouts.at }].flatMap((r) => r.workflowTaskTimeoutsAt ?? []),
    ]
      .filter((at) => at >= killedAt)
      // A task that left A's sticky queue before B was up waited for B (no spare worker).
      .map((at) => Math.max(at, killedAt + restartMs));
    let longestGapAfterRestartMs = 0;
    let previous = readyAt;
    for (const line of lines) {
      if (line.at < readyAt) continue;
      longestGapAfterRestartMs = Math.max(longestGapAfterRestartMs, line.at - previous);
      previous = line.at;
    }
    return {
      workflowId: run.workflowId,
      mode,
      batches,
      killedAt,
      count,
      killAtFraction,
      doneAtKillSignal,
      doneBeforeKill,
      recordedBeforeKill,
      inFlightAtKill,
      reExecuted,
      doneButReRun,
      totalWorkStarts,
      starts: startsPerStep,
      longestGapAfterRestartMs,
      workflowTaskTimeouts: {
        job: jobTimeouts,
        children: [...recorded.values()].reduce((s, r) => s + r.workflowTaskTimeouts, 0),
        childrenStartToClose: [...recorded.values()].reduce((s, r) => s + (r.workflowTaskStartToCloseTimeouts ?? 0), 0),
        childrenAffected: [...recorded.values()].filter((r) => r.workflowTaskTimeouts > 0).length,
      },
      violations,
      result: total,
      timings: {
        toKillMs: killedAt - started,
        restartMs,
        firstStartAfterKillMs: firstStart ? firstStart.at - killedAt : undefined,
        firstInFlightRetryMs: firstRetry ? firstRetry.at - killedAt : undefined,
        firstProgressMs: resumedAt.length ? Math.min(...resumedAt) - killedAt : undefined,
        allResumedMs: resumedAt.length ? Math.max(...resumedAt) - killedAt : undefined,
        recoveryMs: finishedAt - killedAt,
        totalMs: finishedAt - started,
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    removeTempDir(ledger);
  }
}
