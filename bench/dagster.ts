/**
 * Benchmark 4, the Dagster half: runs the same jobs on real Dagster (Python) on this machine.
 *
 *   const { seconds, result, version } = await runDagsterBench('letters');
 *   const big = await runDagsterBench('fanout2000', { keys: 500 });
 *
 * The first call runs `bench/dagster/setup.sh` (creates `bench/dagster/.venv` with the newest dagster
 * from PyPI that installs on python3; a no-op when it is already there at that version); every call
 * then runs `bench/dagster/run.py`, which executes the job with Dagster's default executor (the
 * multiprocess executor: one spawned Python process per step, at most os.cpu_count() at a time), or
 * its in-process mode with `executor: 'in_process'`, on a throwaway persistent instance, and prints one JSON line. `seconds` is Dagster's submit-to-result
 * wall time (execute_job alone: venv start-up, imports and instance creation before it, and reading
 * the result back after it, are excluded); run.py checks the result value and exits non-zero when
 * it is wrong.
 *
 * Jobs (bench/dagster/jobs.py):
 * - `letters`: the seed's dynamic-outputs job (26 keys a..z, each mapped step sleeps 1 s, then
 *   collect); result: the 26 mapped outputs in key order, ['A', ..., 'Z'].
 * - `fanout2000`: a fan-out of `keys` (default 2,000) trivial mapped steps (x + 1) and a collect that
 *   sums them; result: keys * (keys + 1) / 2.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type DagsterJob = 'letters' | 'fanout2000';
export type DagsterExecutor = 'multiprocess' | 'in_process';

export interface DagsterBenchOptions {
  /** fanout2000 only: mapped keys (default 2,000). Dagster takes seconds per step, so the bench may use fewer. */
  keys?: number;
  /** The multiprocess executor's max_concurrent (default: Dagster's, os.cpu_count()). */
  maxConcurrent?: number;
  /**
   * `multiprocess` (default: Dagster's default executor on a persistent instance, a process per step) or
   * `in_process` (every step in one Python process, one after the other: Dagster's fastest for trivial steps).
   */
  executor?: DagsterExecutor;
  /** Python used to create the venv (setup.sh's PYTHON; default python3). */
  python?: string;
  /** Kill the run (and its step processes) after this long; default: no limit. */
  timeoutMs?: number;
  /** Each line Dagster and setup.sh write on stderr (default: dropped; the last lines go into errors). */
  onLog?: (line: string) => void;
}

export interface DagsterBenchResult {
  seconds: number;
  result: unknown;
  /** The dagster package version that ran. */
  version: string;
  job: DagsterJob;
  keys: number;
  /** Steps executed: keys + 2 (the fan-out op and the collecting op). */
  steps: number;
  maxConcurrent: number;
  executor: DagsterExecutor;
}

const dagsterDir = fileURLToPath(new URL('./dagster/', import.meta.url));
const setupScript = `${dagsterDir}setup.sh`;
const runScript = `${dagsterDir}run.py`;
const venvPython = `${dagsterDir}.venv/bin/python`;

interface ProcessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last stderr lines, for error messages. */
  stderrTail: string[];
  timedOut: boolean;
}

const TAIL_LINES = 40;

/** Runs a command to completion; stderr is streamed line by line to onLog and its tail kept. */
function runProcess(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onLog?: (line: string) => void },
): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout can stop the step processes Dagster spawned as well.
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let pending = '';
    const tail: string[] = [];
    const onLine = (line: string) => {
      opts.onLog?.(line);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(onLine);
    });
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            try {
              if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pending) onLine(pending);
      resolve({ code, signal, stdout, stderrTail: tail, timedOut });
    });
  });
}

function describeFailure(what: string, outcome: ProcessOutcome): string {
  const how = outcome.timedOut ? 'timed out' : outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.code}`;
  const tail = outcome.stderrTail.length ? `\n--- last stderr lines ---\n${outcome.stderrTail.join('\n')}` : '';
  return `${what} ${how}${tail}`;
}

let setupDone: Promise<string> | undefined;

/**
 * Runs bench/dagster/setup.sh once per process (later calls share the first call's outcome, unless
 * it failed) and resolves to the installed dagster version.
 */
export function setupDagster(opts: Pick<DagsterBenchOptions, 'python' | 'onLog'> = {}): Promise<string> {
  setupDone ??= (async () => {
    const env = { ...process.env, ...(opts.python ? { PYTHON: opts.python } : {}) };
    let outcome: ProcessOutcome;
    try {
      outcome = await runProcess('bash', [setupScript], { env, ...(opts.onLog ? { onLog: opts.onLog } : {}) });
    } catch (err) {
      throw new Error(`Dagster bench: could not run bash ${setupScript}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    if (outcome.code === 2) {
      throw new Error(
        `Dagster bench needs Python >= 3.10 with venv and pip (python3 on PATH, or options.python): ${outcome.stderrTail.join(' ')}`,
      );
    }
    if (outcome.code !== 0) {
      throw new Error(describeFailure(`Dagster bench: ${setupScript} (installing dagster from PyPI with pip)`, outcome));
    }
    const version = outcome.stdout.trim().split('\n').pop()?.trim();
    if (!version) throw new Error(`Dagster bench: ${setupScript} printed no dagster version`);
    return version;
  })();
  setupDone.catch(() => {
    setupDone = undefined;
  });
  return setupDone;
}

/** run.py's JSON line. */
interface RunLine {
  system: 'dagster';
  job: DagsterJob;
  keys: number;
  seconds: number;
  result: unknown;
  dagster_version: string;
  max_concurrent: number;
  steps: number;
  executor: DagsterExecutor;
}

function parseRunLine(stdout: string): RunLine {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .pop();
  if (!line) throw new Error(`Dagster bench: run.py printed no JSON line (stdout: ${JSON.stringify(stdout.slice(-500))})`);
  const parsed = JSON.parse(line) as Partial<RunLine>;
  if (
    parsed.system !== 'dagster' ||
    typeof parsed.seconds !== 'number' ||
    typeof parsed.dagster_version !== 'string' ||
    !('result' in parsed)
  ) {
    throw new Error(`Dagster bench: unexpected JSON line from run.py: ${line}`);
  }
  return parsed as RunLine;
}

/**
 * Runs one Dagster benchmark job (installing dagster first, once) and returns its submit-to-result
 * wall time in seconds, the verified result value and the dagster version.
 */
export async function runDagsterBench(job: DagsterJob, opts: DagsterBenchOptions = {}): Promise<DagsterBenchResult> {
  if (opts.keys !== undefined && job !== 'fanout2000') throw new Error('Dagster bench: keys applies to fanout2000 only');
  if (opts.keys !== undefined && (!Number.isInteger(opts.keys) || opts.keys < 1)) {
    throw new Error(`Dagster bench: keys must be a positive integer, got ${opts.keys}`);
  }
  await setupDagster(opts);
  const args = [runScript, '--job', job];
  if (opts.keys !== undefined) args.push('--keys', String(opts.keys));
  if (opts.maxConcurrent !== undefined) args.push('--max-concurrent', String(opts.maxConcurrent));
  if (opts.executor !== undefined) args.push('--executor', opts.executor);
  const outcome = await runProcess(venvPython, args, {
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.onLog ? { onLog: opts.onLog } : {}),
  });
  if (outcome.code !== 0) throw new Error(describeFailure(`Dagster bench: run.py --job ${job}`, outcome));
  const line = parseRunLine(outcome.stdout);
  return {
    seconds: line.seconds,
    result: line.result,
    version: line.dagster_version,
    job: line.job,
    keys: line.keys,
    steps: line.steps,
    maxConcurrent: line.max_concurrent,
    executor: line.executor,
  };
}
