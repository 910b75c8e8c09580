/**
 * The upgrade drill: runs started on a worker built from the baseline commit (test/upgrade/BASELINE) finish on a
 * worker built from the working tree, with the right results and no nondeterminism.
 *
 * 1. `git worktree add --detach` the baseline into a temp dir; it shares this checkout's node_modules (symlink) and
 *    gets this tree's test/upgrade/{jobs,worker,launch}.ts, so each worker serves the same jobs through its own src/.
 * 2. A baseline worker process starts on a dedicated task queue; the baseline's launcher starts one run per shape
 *    (test/upgrade/jobs.ts), so plans and workflow inputs are the baseline's.
 * 3. When every run has made progress (completed activities in its workflow tree; the retry run's durable timer
 *    pending; the long op running) and none has finished, the baseline worker's process group is SIGKILLed.
 * 4. A worker from the working tree starts on the same task queue and finishes every run. Each result is checked
 *    exactly; every workflow of every run (job, children, shards, grandchildren) is scanned for WorkflowTaskFailed
 *    events: nondeterminism fails the drill, other workflow-task failures are reported.
 *
 * `npm run upgrade-drill` (scripts/upgrade-drill.ts) and test/upgrade/upgrade.test.ts run it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { JobResult } from '../../src/client/result.ts';
import { awaitRun } from '../../src/client/run.ts';
import { OPGRAPH_SEARCH_ATTRIBUTES } from '../../src/searchAttributes.ts';
import { startDevServer, type DevServer } from '../../src/server/devServer.ts';
import { FileSystemStore, getDefaultStore, setDefaultStore } from '../../src/store/store.ts';
import { interpreterBundle } from '../../src/worker/createWorker.ts';
import { SHAPES, type DrillShape } from './jobs.ts';

const run = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Copied into the baseline worktree at the same relative paths. */
const DRILL_FILES = ['test/upgrade/jobs.ts', 'test/upgrade/worker.ts', 'test/upgrade/launch.ts'];
const WORKER_SCRIPT = 'test/upgrade/worker.ts';
const LAUNCH_SCRIPT = 'test/upgrade/launch.ts';
/** Failure texts of a workflow task that did not replay: the SDK's and the server's wordings. */
const NONDETERMINISM = /nondetermin|TMPRL1100|does not match|DeterminismViolation/i;
/** Runtime dependencies the baseline worker borrows from this checkout's node_modules. */
const RUNTIME_DEPS = /^(@temporalio\/|zod$|tsx$)/;

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface DrillOptions {
  /** A running server (e.g. the test suite's); default: a dev server started and stopped by the drill. */
  address?: string;
  /** The working tree's interpreter, already bundled (e.g. the test suite's); default: bundled by the drill. */
  headBundlePath?: string;
  /** Baseline commit; default: the one named in test/upgrade/BASELINE. */
  baseline?: string;
  /** Longest wait for the kill point after the runs start (default 90 s). */
  killPointTimeoutMs?: number;
  /** Longest wait for all runs on the new worker (default 150 s). */
  finishTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface TaskFailure {
  workflowId: string;
  /** The WorkflowTaskFailed event. */
  eventId: number;
  cause: string;
  message: string;
  /** Identity of the worker whose task failed. */
  identity: string;
  /** The events just before it: where the replay diverged. */
  before: string[];
}

export interface ShapeOutcome {
  shape: string;
  jobName: string;
  workflowId: string;
  status: string;
  expected: unknown;
  actual?: unknown;
  correct: boolean;
  error?: string;
  /** State when the baseline worker was killed. */
  atKill: {
    doneActivities: number;
    workflows: number;
    openWorkflows: number;
    timerPending: boolean;
    longOpRunning: boolean;
    closed: boolean;
  };
  /** Workflows of the run (job, children, shards) at the end. */
  workflows: number;
  /** Workflows with completed workflow tasks from both workers: the new worker replayed the baseline's history. */
  replayedAcrossUpgrade: number;
  workflowTasks: { baseline: number; head: number };
  activities: { baseline: number; head: number };
  nondeterminism: TaskFailure[];
  otherTaskFailures: TaskFailure[];
  workflowTaskTimeouts: number;
}

export interface DrillReport {
  baseline: string;
  head: string;
  taskQueue: string;
  shapes: ShapeOutcome[];
  /** Everything that makes the drill fail, one line each. */
  problems: string[];
  /** Noteworthy but not failing. */
  notes: string[];
  timings: { setupMs: number; toKillMs: number; afterKillMs: number; totalMs: number };
  passed: boolean;
}

export function readBaseline(): string {
  const text = readFileSync(join(REPO_ROOT, 'test/upgrade/BASELINE'), 'utf8');
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('#'));
  if (!line) throw new Error('test/upgrade/BASELINE names no commit');
  return line;
}

export async function runUpgradeDrill(o: DrillOptions = {}): Promise<DrillReport> {
  const log = o.log ?? ((line: string) => console.log(line));
  const started = Date.now();
  const problems: string[] = [];
  const notes: string[] = [];
  const baselineRef = o.baseline ?? readBaseline();
  const baseline = await resolveCommit(baselineRef);
  const head = (await git('rev-parse', 'HEAD')).trim();
  const dirty = (await git('status', '--porcelain', '--untracked-files=no')).trim() !== '';
  const headLabel = `${head.slice(0, 7)}${dirty ? ' + uncommitted changes' : ''}`;
  const taskQueue = `upgrade-drill-${process.pid}-${Date.now().toString(36)}`;
  const scratch = mkdtempSync(join(tmpdir(), 'opgraph-upgrade-drill-'));
  const worktree = join(scratch, 'baseline');
  const storageDir = join(scratch, 'storage');
  mkdirSync(storageDir);
  // Both workers and this client (which reads the runs' results) share one value store.
  const previousStore = getDefaultStore();
  setDefaultStore(new FileSystemStore(storageDir));
  let server: DevServer | undefined;
  let connection: Connection | undefined;
  let baselineWorker: WorkerProcess | undefined;
  let headWorker: WorkerProcess | undefined;
  let worktreeAdded = false;
  try {
    log(`[drill] baseline ${baseline.slice(0, 7)} (${baselineRef}) → working tree ${headLabel}; task queue ${taskQueue}`);
    await git('worktree', 'add', '--detach', worktree, baseline);
    worktreeAdded = true;
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(worktree, 'node_modules'), 'dir');
    for (const file of DRILL_FILES) {
      mkdirSync(dirname(join(worktree, file)), { recursive: true });
      copyFileSync(join(REPO_ROOT, file), join(worktree, file));
    }
    const depsNote = dependencyDifference(worktree);
    if (depsNote) {
      notes.push(depsNote);
      log(`[drill] NOTE ${depsNote}`);
    }

    let address = o.address;
    if (!address) {
      server = await startDevServer({ searchAttributes: OPGRAPH_SEARCH_ATTRIBUTES, onNotice: (m) => log(`[drill] ${m}`) });
      address = server.address;
      log(`[drill] dev server ${address}`);
    }
    connection = await Connection.connect({ address });
    const client = new Client({ connection });

    let headBundlePath = o.headBundlePath;
    if (!headBundlePath) {
      headBundlePath = join(scratch, 'head-bundle.js');
      writeFileSync(headBundlePath, (await interpreterBundle()).code);
      log(`[drill] working tree's interpreter bundled`);
    }

    const env = { ...process.env, OPGRAPH_STORAGE_DIR: storageDir };
    const baselineIdentity = `upgrade-drill-baseline-${baseline.slice(0, 7)}`;
    const headIdentity = `upgrade-drill-head-${head.slice(0, 7)}`;
    baselineWorker = await WorkerProcess.start(
      worktree,
      ['--address', address, '--task-queue', taskQueue, '--identity', baselineIdentity],
      env,
    );
    log(`[drill] baseline worker ready (pid ${baselineWorker.pid}, ${secs(Date.now() - started)} since start)`);

    const launchedAt = Date.now();
    const launched = await launchOnBaseline(worktree, address, taskQueue, env);
    const runs = launched.map((l) => {
      const shape = SHAPES.find((s) => s.shape === l.shape);
      if (!shape) throw new Error(`the baseline launcher started an unknown shape "${l.shape}"`);
      return { ...l, spec: shape };
    });
    log(`[drill] ${runs.length} runs started by the baseline: ${runs.map((r) => r.jobName).join(', ')}`);
    const setupMs = launchedAt - started;

    // ── kill point ──
    const killTimeout = o.killPointTimeoutMs ?? 90_000;
    let states = new Map<string, RunState>();
    let lastLine = '';
    for (;;) {
      states = new Map(await Promise.all(runs.map(async (r) => [r.workflowId, await runState(client, r.workflowId, r.spec)] as const)));
      const line = runs.map((r) => stateLabel(r.spec, states.get(r.workflowId))).join(' · ');
      if (line !== lastLine) log(`[drill] +${secs(Date.now() - launchedAt)} ${line}`);
      lastLine = line;
      const closed = runs.filter((r) => states.get(r.workflowId)?.closed);
      if (closed.length > 0) {
        problems.push(
          `run(s) finished before the kill point, so the drill proves nothing for them (make their ops slower): ${closed.map((r) => r.shape).join(', ')}`,
        );
        break;
      }
      if (runs.every((r) => readyToKill(r.spec, states.get(r.workflowId)))) break;
      if (Date.now() - launchedAt > killTimeout) {
        problems.push(
          `kill point not reached within ${secs(killTimeout)}: ${runs
            .filter((r) => !readyToKill(r.spec, states.get(r.workflowId)))
            .map((r) => `${r.shape} (${stateLabel(r.spec, states.get(r.workflowId))})`)
            .join(', ')}`,
        );
        break;
      }
      await sleep(500);
    }
    const killedAt = Date.now();
    await baselineWorker.killGroup();
    log(`[drill] SIGKILLed the baseline worker's process group at +${secs(killedAt - launchedAt)}`);

    // ── the working tree's worker finishes every run ──
    headWorker = await WorkerProcess.start(
      REPO_ROOT,
      ['--address', address, '--task-queue', taskQueue, '--identity', headIdentity, '--bundle', headBundlePath],
      env,
    );
    log(`[drill] working tree's worker ready (pid ${headWorker.pid}) +${secs(Date.now() - killedAt)} after the kill`);

    const finishTimeout = o.finishTimeoutMs ?? 150_000;
    const deadline = Date.now() + finishTimeout;
    const results = await Promise.all(
      runs.map(async (r) => {
        const handle = client.workflow.getHandle(r.workflowId);
        // Polls instead of long-polling the result, so no call is left hanging when a run never finishes.
        if (!(await closedBefore(client, r.workflowId, deadline))) {
          log(`[drill] ${r.shape}: not finished ${secs(finishTimeout)} after the new worker started`);
          return { r, status: 'NOT FINISHED', error: `not finished within ${secs(finishTimeout)} of the new worker starting` };
        }
        let outcome: JobResult;
        try {
          outcome = await awaitRun({ jobName: r.jobName, runId: r.runId, workflowId: r.workflowId, handle });
        } catch (err) {
          log(`[drill] ${r.shape}: reading its result failed`);
          return { r, status: 'ERROR', error: `reading the result failed: ${err instanceof Error ? err.message : String(err)}` };
        }
        let actual: unknown;
        let error: string | undefined;
        try {
          actual = await outcome.outputFor(r.spec.node);
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        if (outcome.status !== 'SUCCESS') error = `${outcome.status}: ${JSON.stringify(outcome.failures).slice(0, 2000)}`;
        log(`[drill] ${r.shape}: ${outcome.status} +${secs(Date.now() - killedAt)} after the kill`);
        return { r, status: outcome.status, actual, error };
      }),
    );
    const afterKillMs = Date.now() - killedAt;

    // ── scan every workflow of every run ──
    const shapes: ShapeOutcome[] = [];
    for (const { r, status, actual, error } of results) {
      const tree = await workflowTree(client, r.workflowId);
      const scan = scanTree(tree, baselineIdentity, headIdentity);
      const atKill = states.get(r.workflowId);
      const correct = error === undefined && status === 'SUCCESS' && isDeepStrictEqual(actual, r.spec.expected);
      const outcome: ShapeOutcome = {
        shape: r.shape,
        jobName: r.jobName,
        workflowId: r.workflowId,
        status,
        expected: r.spec.expected,
        ...(actual !== undefined ? { actual } : {}),
        correct,
        ...(error !== undefined ? { error } : {}),
        atKill: {
          doneActivities: atKill?.doneActivities ?? 0,
          workflows: atKill?.workflows ?? 0,
          openWorkflows: atKill?.openWorkflows ?? 0,
          timerPending: atKill?.timerPending ?? false,
          longOpRunning: atKill?.longOpRunning ?? false,
          closed: atKill?.closed ?? false,
        },
        ...scan,
      };
      shapes.push(outcome);
      if (!correct) {
        problems.push(
          `${r.shape}: ${error ?? `result ${JSON.stringify(actual)} of node ${r.spec.node}, expected ${JSON.stringify(r.spec.expected)}`}`,
        );
      }
      for (const f of scan.nondeterminism) {
        problems.push(
          `${r.shape}: NONDETERMINISM in ${f.workflowId} at event ${f.eventId} (${f.cause}, worker ${f.identity}): ${f.message}\n    events before it: ${f.before.join(' | ')}`,
        );
      }
      for (const f of scan.otherTaskFailures) {
        notes.push(
          `${r.shape}: workflow task failed in ${f.workflowId} at event ${f.eventId} (${f.cause}, worker ${f.identity}): ${f.message}`,
        );
      }
      if (scan.workflowTasks.baseline === 0 || scan.workflowTasks.head === 0) {
        problems.push(
          `${r.shape}: workflow tasks by baseline ${scan.workflowTasks.baseline}, by the new worker ${scan.workflowTasks.head}: the run did not cross the upgrade`,
        );
      }
      log(shapeLine(outcome));
    }
    if (problems.some((p) => p.includes('NONDETERMINISM')) || results.some((x) => x.status === 'NOT FINISHED')) {
      const tail = headWorker
        .output()
        .split('\n')
        .filter((l) => NONDETERMINISM.test(l))
        .slice(0, 5);
      if (tail.length) notes.push(`new worker's log:\n${tail.join('\n')}`);
    }
    const totalMs = Date.now() - started;
    const report: DrillReport = {
      baseline,
      head: headLabel,
      taskQueue,
      shapes,
      problems,
      notes,
      timings: { setupMs, toKillMs: killedAt - launchedAt, afterKillMs, totalMs },
      passed: problems.length === 0,
    };
    return report;
  } finally {
    setDefaultStore(previousStore);
    await headWorker?.stop();
    await baselineWorker?.killGroup();
    await connection?.close();
    await server?.stop();
    if (worktreeAdded) {
      await git('worktree', 'remove', '--force', worktree).catch((err: unknown) =>
        log(`[drill] git worktree remove failed: ${String(err)}`),
      );
    }
    rmSync(scratch, { recursive: true, force: true });
    if (worktreeAdded) await git('worktree', 'prune').catch(() => {});
  }
}

// ─── git and the baseline tree ────────────────────────────────────────────────────────────────

async function git(...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', REPO_ROOT, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function resolveCommit(ref: string): Promise<string> {
  try {
    return (await git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`)).trim();
  } catch {
    // A shallow clone lacks older commits: fetch the full history once, then look again.
    if ((await git('rev-parse', '--is-shallow-repository').catch(() => '')).trim() === 'true') {
      await git('fetch', '--quiet', '--unshallow').catch(() => '');
      const found = await git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`).catch(() => '');
      if (found.trim()) return found.trim();
    }
    throw new Error(
      `baseline commit ${ref} (test/upgrade/BASELINE) is not in this clone; a shallow clone lacks it: git fetch --unshallow (or clone with full history)`,
    );
  }
}

/** The baseline worker runs with this checkout's node_modules: say so when the runtime dependencies differ. */
function dependencyDifference(worktree: string): string | undefined {
  const deps = (root: string) =>
    (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
  const ours = deps(REPO_ROOT);
  const theirs = deps(worktree);
  const names = new Set([...Object.keys(ours), ...Object.keys(theirs)].filter((n) => RUNTIME_DEPS.test(n)));
  const differing = [...names].filter((n) => ours[n] !== theirs[n]).map((n) => `${n} ${theirs[n] ?? '–'} → ${ours[n] ?? '–'}`);
  return differing.length
    ? `runtime dependencies differ from the baseline's (${differing.join(', ')}); the baseline worker runs with this checkout's node_modules`
    : undefined;
}

async function launchOnBaseline(worktree: string, address: string, taskQueue: string, env: NodeJS.ProcessEnv) {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', LAUNCH_SCRIPT, '--address', address, '--task-queue', taskQueue], {
    cwd: worktree,
    env,
    maxBuffer: 4 * 1024 * 1024,
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as { shape: string; jobName: string; runId: string; workflowId: string }[];
}

// ─── worker processes ─────────────────────────────────────────────────────────────────────────

class WorkerProcess {
  private lines: string[] = [];
  private exitedWith: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    const keep = (chunk: string) => {
      this.lines.push(...chunk.split('\n').filter(Boolean));
      if (this.lines.length > 400) this.lines = this.lines.slice(-400);
    };
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedWith = { code, signal };
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  output(): string {
    return this.lines.join('\n');
  }

  /** Starts `test/upgrade/worker.ts` of the tree at `cwd` (its own tsx, src/ and jobs) in a new process group. */
  static async start(cwd: string, args: string[], env: NodeJS.ProcessEnv, readyTimeoutMs = 240_000): Promise<WorkerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, ...args], {
      cwd,
      env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const proc = new WorkerProcess(child);
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
      sleep(readyTimeoutMs).then(() => false),
    ]);
    if (!ready) {
      await proc.killGroup();
      throw new Error(
        `worker in ${cwd} did not start within ${secs(readyTimeoutMs)} (exit ${JSON.stringify(proc.exitedWith)}):\n${proc.output()}`,
      );
    }
    return proc;
  }

  /** SIGKILL to the whole process group, then wait until the worker is gone. */
  async killGroup(): Promise<void> {
    if (this.exitedWith) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  /** Graceful shutdown (SIGTERM), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exitedWith) return;
    this.child.kill('SIGTERM');
    if (!(await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]))) await this.killGroup();
  }
}

// ─── histories ────────────────────────────────────────────────────────────────────────────────

interface RunState {
  closed: boolean;
  workflows: number;
  openWorkflows: number;
  doneActivities: number;
  timerPending: boolean;
  longOpRunning: boolean;
}

interface TreeNode {
  workflowId: string;
  events: HistoryEvent[];
}

/** The run's job workflow and every workflow it started, recursively (children, shards, grandchildren). */
async function workflowTree(client: Client, workflowId: string): Promise<TreeNode[]> {
  const out: TreeNode[] = [];
  const queue = [workflowId];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const batch = queue.splice(0, queue.length).filter((id) => !seen.has(id));
    batch.forEach((id) => seen.add(id));
    const nodes = await Promise.all(
      batch.map(async (id) => ({ workflowId: id, events: (await client.workflow.getHandle(id).fetchHistory()).events ?? [] })),
    );
    for (const node of nodes) {
      out.push(node);
      for (const e of node.events) {
        const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
        if (child) queue.push(child);
      }
    }
  }
  return out;
}

function isClosed(events: readonly HistoryEvent[]): boolean {
  return events.some(
    (e) =>
      e.workflowExecutionCompletedEventAttributes ||
      e.workflowExecutionFailedEventAttributes ||
      e.workflowExecutionCanceledEventAttributes ||
      e.workflowExecutionTerminatedEventAttributes ||
      e.workflowExecutionTimedOutEventAttributes ||
      e.workflowExecutionContinuedAsNewEventAttributes,
  );
}

async function runState(client: Client, workflowId: string, spec: DrillShape): Promise<RunState> {
  const tree = await workflowTree(client, workflowId);
  const job = tree[0]?.events ?? [];
  const started = new Set(job.flatMap((e) => (e.timerStartedEventAttributes?.timerId ? [e.timerStartedEventAttributes.timerId] : [])));
  for (const e of job) {
    const ended = e.timerFiredEventAttributes?.timerId ?? e.timerCanceledEventAttributes?.timerId;
    if (ended) started.delete(ended);
  }
  let longOpRunning = false;
  const pending = spec.pendingAtKill;
  if (pending && 'activityType' in pending) {
    const { raw } = await client.workflow.getHandle(workflowId).describe();
    // PENDING_ACTIVITY_STATE_STARTED = 2: a worker is running it.
    longOpRunning = (raw.pendingActivities ?? []).some((a) => a.activityType?.name === pending.activityType && Number(a.state) === 2);
  }
  return {
    closed: isClosed(job),
    workflows: tree.length,
    openWorkflows: tree.filter((w) => !isClosed(w.events)).length,
    doneActivities: tree.reduce((n, w) => n + w.events.filter((e) => e.activityTaskCompletedEventAttributes).length, 0),
    timerPending: started.size > 0,
    longOpRunning,
  };
}

function readyToKill(spec: DrillShape, state: RunState | undefined): boolean {
  if (!state || state.closed || state.doneActivities < spec.minDone) return false;
  const pending = spec.pendingAtKill;
  if (!pending) return true;
  return 'timer' in pending ? state.timerPending : state.longOpRunning;
}

function stateLabel(spec: DrillShape, state: RunState | undefined): string {
  if (!state) return `${spec.job.name} ?`;
  if (state.closed) return `${spec.job.name} CLOSED`;
  const extra = !spec.pendingAtKill
    ? ''
    : 'timer' in spec.pendingAtKill
      ? state.timerPending
        ? ' timer'
        : ''
      : state.longOpRunning
        ? ' running'
        : '';
  return `${spec.job.name.replace(/^drill_/, '')} ${state.doneActivities}✓${extra}${readyToKill(spec, state) ? '' : '…'}`;
}

function scanTree(tree: readonly TreeNode[], baselineIdentity: string, headIdentity: string) {
  const nondeterminism: TaskFailure[] = [];
  const otherTaskFailures: TaskFailure[] = [];
  const workflowTasks = { baseline: 0, head: 0 };
  const activities = { baseline: 0, head: 0 };
  let workflowTaskTimeouts = 0;
  let replayedAcrossUpgrade = 0;
  for (const { workflowId, events } of tree) {
    const byWorker = { baseline: 0, head: 0 };
    events.forEach((e, i) => {
      const completed = e.workflowTaskCompletedEventAttributes?.identity;
      if (completed === baselineIdentity) byWorker.baseline++;
      if (completed === headIdentity) byWorker.head++;
      const ranOn = e.activityTaskStartedEventAttributes?.identity;
      if (ranOn === baselineIdentity) activities.baseline++;
      if (ranOn === headIdentity) activities.head++;
      if (e.workflowTaskTimedOutEventAttributes) workflowTaskTimeouts++;
      const failed = e.workflowTaskFailedEventAttributes;
      if (failed) {
        const failure: TaskFailure = {
          workflowId,
          eventId: Number(e.eventId),
          cause: String(failed.cause ?? ''),
          message: `${failed.failure?.message ?? ''}${failed.failure?.stackTrace ? `\n${failed.failure.stackTrace.split('\n').slice(0, 6).join('\n')}` : ''}`,
          identity: failed.identity ?? '',
          before: events.slice(Math.max(0, i - 6), i).map(eventLabel),
        };
        // Cause 24 = WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR.
        if (NONDETERMINISM.test(failure.message) || Number(failed.cause) === 24) nondeterminism.push(failure);
        else otherTaskFailures.push(failure);
      }
    });
    workflowTasks.baseline += byWorker.baseline;
    workflowTasks.head += byWorker.head;
    if (byWorker.baseline > 0 && byWorker.head > 0) replayedAcrossUpgrade++;
  }
  return {
    workflows: tree.length,
    replayedAcrossUpgrade,
    workflowTasks,
    activities,
    nondeterminism,
    otherTaskFailures,
    workflowTaskTimeouts,
  };
}

function eventLabel(e: HistoryEvent): string {
  const kind = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]);
  const name = kind ? kind.replace(/EventAttributes$/, '') : `type ${String(e.eventType)}`;
  const activity = e.activityTaskScheduledEventAttributes;
  const child = e.startChildWorkflowExecutionInitiatedEventAttributes;
  const detail = activity
    ? ` ${activity.activityType?.name ?? ''} ${activity.activityId ?? ''}`
    : child
      ? ` ${child.workflowId ?? ''}`
      : e.markerRecordedEventAttributes
        ? ` ${e.markerRecordedEventAttributes.markerName ?? ''}`
        : e.timerStartedEventAttributes
          ? ` ${e.timerStartedEventAttributes.timerId ?? ''}`
          : '';
  return `#${String(e.eventId)} ${name}${detail}`;
}

// ─── small helpers ──────────────────────────────────────────────────────────────────────────

export function shapeLine(s: ShapeOutcome): string {
  const ok = s.correct && s.nondeterminism.length === 0;
  return (
    `[drill] ${ok ? 'PASS' : 'FAIL'} ${s.shape} (${s.jobName}): ${s.status}, ${s.correct ? 'result exact' : `WRONG: ${s.error ?? JSON.stringify(s.actual)}`} · ` +
    `at kill ${s.atKill.doneActivities} activities done, ${s.atKill.openWorkflows} of ${s.atKill.workflows} workflow(s) open${s.atKill.timerPending ? ', retry timer pending' : ''}${s.atKill.longOpRunning ? ', long op running' : ''} · ` +
    `${s.workflows} workflow(s), ${s.replayedAcrossUpgrade} replayed across the upgrade · workflow tasks baseline ${s.workflowTasks.baseline} / new ${s.workflowTasks.head} · ` +
    `activities baseline ${s.activities.baseline} / new ${s.activities.head} · nondeterminism ${s.nondeterminism.length}, other task failures ${s.otherTaskFailures.length}, task timeouts ${s.workflowTaskTimeouts}`
  );
}

export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function closedBefore(client: Client, workflowId: string, deadline: number): Promise<boolean> {
  for (;;) {
    const { status } = await client.workflow.getHandle(workflowId).describe();
    if (status.name !== 'RUNNING') return true;
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
}
