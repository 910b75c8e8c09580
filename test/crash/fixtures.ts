/**
 * The crash-test job and its ledger.
 *
 * `crash_fan_out` yields N mapping keys, `crash_work` runs once per key, `crash_total` sums the
 * collect. Every op appends `start <stepKey> …` / `done <stepKey> …` lines to a ledger file whose
 * path comes from run config, so a test can see from outside exactly which step bodies ran, how
 * often, in which worker process and when. The ledger is test instrumentation, not product code.
 *
 * Ledger line format (space separated): `<event> <stepKey> <pid> <epochMs> [<extra>]`
 *   start crash_fan_out <pid> <ms> a<attempt>       one fan-out attempt begins
 *   yield crash_fan_out <pid> <ms> a<attempt>_<i>   that attempt yielded mapping key a<attempt>_<i>
 *   done  crash_fan_out <pid> <ms> a<attempt>       that attempt finished yielding
 *   start crash_work[<key>] <pid> <ms>
 *   done  crash_work[<key>] <pid> <ms>
 *   start / done crash_total …
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { DimensionOptions } from '../../src/dsl/plan.ts';
import { Definitions, DynamicOut, DynamicOutput, job, type JobDefinition, op, type OpContext, type RunConfig } from '../../src/index.ts';

export const FAN_OUT = 'crash_fan_out';
export const WORK = 'crash_work';
export const TOTAL = 'crash_total';

/** Short heartbeat timeout: a SIGKILLed worker's in-flight ops are retried after ~2 s (+ 1 s backoff). */
const TIMEOUTS = { heartbeat: '2s', startToClose: '2m' } as const;

const FanOutConfig = z.object({
  ledger: z.string(),
  /** How many mapping keys to yield. */
  count: z.number().int().nonnegative().default(200),
  /** Pause before each yield, to make the fan-out op slow enough to be killed mid-way. */
  yieldDelayMs: z.number().int().nonnegative().default(0),
});

const WorkConfig = z.object({
  ledger: z.string(),
  minMs: z.number().int().nonnegative().default(100),
  maxMs: z.number().int().nonnegative().default(200),
});

const TotalConfig = z.object({ ledger: z.string() });

export interface WorkItem {
  readonly index: number;
}
export interface WorkValue {
  readonly key: string;
  readonly value: number;
}
export interface Total {
  readonly sum: number;
  readonly count: number;
  /** Mapping keys in collect order (yield order). */
  readonly keys: string[];
}

function record(ledger: string, event: 'start' | 'yield' | 'done', stepKey: string, extra?: string): void {
  appendFileSync(ledger, `${event} ${stepKey} ${process.pid} ${Date.now()}${extra === undefined ? '' : ` ${extra}`}\n`);
}

/** Stops a stale attempt (heartbeat timed out, run cancelled) instead of letting it run on. */
function checkAborted(ctx: OpContext<unknown>): void {
  if (ctx.signal.aborted) throw new Error(`${ctx.stepKey}: attempt aborted (${String(ctx.signal.reason)})`);
}

/**
 * The fan-out's attempt number, counted in the ledger: 1 + earlier `start crash_fan_out` lines.
 * Keys depend on it (`a<attempt>_<i>`), so keys of a killed attempt would be visible if they leaked.
 */
function fanOutAttempt(ledger: string): number {
  if (!existsSync(ledger)) return 1;
  return 1 + parseLedger(readFileSync(ledger, 'utf8')).filter((l) => l.event === 'start' && l.stepKey === FAN_OUT).length;
}

export const crashFanOut = op(
  { name: FAN_OUT, out: new DynamicOut<WorkItem>(), config: FanOutConfig, timeouts: TIMEOUTS },
  async function* (ctx) {
    const { ledger, count, yieldDelayMs } = ctx.opConfig;
    const attempt = fanOutAttempt(ledger);
    record(ledger, 'start', ctx.stepKey, `a${attempt}`);
    for (let index = 0; index < count; index++) {
      if (yieldDelayMs > 0) await sleep(yieldDelayMs);
      checkAborted(ctx);
      const mappingKey = `a${attempt}_${index}`;
      record(ledger, 'yield', ctx.stepKey, mappingKey);
      yield new DynamicOutput<WorkItem>({ index }, { mappingKey });
    }
    record(ledger, 'done', ctx.stepKey, `a${attempt}`);
  },
);

/** The deterministic value of item `index`. */
export function workValue(index: number): number {
  return index * 3 + 1;
}

export const crashWork = op({ name: WORK, config: WorkConfig, timeouts: TIMEOUTS }, async (ctx, item: WorkItem): Promise<WorkValue> => {
  const { ledger, minMs, maxMs } = ctx.opConfig;
  record(ledger, 'start', ctx.stepKey);
  await sleep(minMs + Math.floor(Math.random() * (Math.max(minMs, maxMs) - minMs + 1)));
  checkAborted(ctx);
  record(ledger, 'done', ctx.stepKey);
  return { key: ctx.getMappingKey() ?? '', value: workValue(item.index) };
});

export const crashTotal = op({ name: TOTAL, config: TotalConfig, timeouts: TIMEOUTS }, async (ctx, values: WorkValue[]): Promise<Total> => {
  record(ctx.opConfig.ledger, 'start', ctx.stepKey);
  const total = { sum: values.reduce((s, v) => s + v.value, 0), count: values.length, keys: values.map((v) => v.key) };
  record(ctx.opConfig.ledger, 'done', ctx.stepKey);
  return total;
});

export const crashJob = job({ name: 'crash_job' }, () => {
  crashTotal(crashFanOut().map(crashWork).collect());
});

/** How the crash job's map runs its keys (src/engine/keyed.ts). */
export type CrashMode = 'child' | 'activity' | 'batch';
export const CRASH_MODES: readonly CrashMode[] = ['child', 'activity', 'batch'];
export function isCrashMode(value: string): value is CrashMode {
  return (CRASH_MODES as readonly string[]).includes(value);
}

/** Keys per batch activity in batch mode: small, so that at a kill some batches are done, one or two in flight, more not started. */
export const CRASH_BATCH_SIZE = 10;

/**
 * The map options per mode. Activity and batch modes get a window (`maxConcurrency`), so the run
 * advances over a few seconds like the child-mode one instead of starting every key at once: a kill
 * at half the keys then finds finished-and-recorded steps (batches), some in flight and some not started.
 */
export const CRASH_MAP_OPTIONS: Record<CrashMode, DimensionOptions | undefined> = {
  child: undefined,
  activity: { mode: 'activity', maxConcurrency: 20 },
  batch: { mode: 'batch', batchSize: CRASH_BATCH_SIZE, maxConcurrency: 2 },
};

export const crashActivityJob = job({ name: 'crash_job_activity' }, () => {
  crashTotal(crashFanOut().map(crashWork, CRASH_MAP_OPTIONS.activity).collect());
});

export const crashBatchJob = job({ name: 'crash_job_batch' }, () => {
  crashTotal(crashFanOut().map(crashWork, CRASH_MAP_OPTIONS.batch).collect());
});

/** The crash job whose map runs in mode `mode` (child: `crash_job`, unchanged). */
export const crashJobs: Record<CrashMode, JobDefinition> = { child: crashJob, activity: crashActivityJob, batch: crashBatchJob };

/** Keys per shard of crashShardedJob. */
export const CRASH_SHARD_SIZE = 20;

/** Activity mode in shard workflows of CRASH_SHARD_SIZE keys each (100 keys: 5 shards), 2 keys at a time per shard. */
export const crashShardedJob = job({ name: 'crash_job_sharded' }, () => {
  crashTotal(crashFanOut().map(crashWork, { mode: 'activity', shardSize: CRASH_SHARD_SIZE, maxConcurrency: 2 }).collect());
});

/**
 * Redrive in place under a crash: `crash_flaky_work` fails for the keys in `failing` while the file
 * `brokenFlag` exists (a bug not yet fixed); once it is removed (the fix deployed) those keys take
 * `fixedMs` each, long enough to SIGKILL the worker in the middle of the redrive.
 */
const FlakyConfig = WorkConfig.extend({ brokenFlag: z.string(), failing: z.array(z.string()), fixedMs: z.number().int().nonnegative() });
export const FLAKY_WORK = 'crash_flaky_work';
export const crashFlakyWork = op(
  { name: FLAKY_WORK, config: FlakyConfig, timeouts: TIMEOUTS },
  async (ctx, item: WorkItem): Promise<WorkValue> => {
    const { ledger, minMs, maxMs, brokenFlag, failing, fixedMs } = ctx.opConfig;
    const key = ctx.getMappingKey() ?? '';
    record(ledger, 'start', ctx.stepKey);
    if (failing.includes(key)) {
      if (existsSync(brokenFlag)) throw new Error(`${ctx.stepKey}: bad data (not fixed yet)`);
      await sleep(fixedMs);
    } else {
      await sleep(minMs + Math.floor(Math.random() * (Math.max(minMs, maxMs) - minMs + 1)));
    }
    checkAborted(ctx);
    record(ledger, 'done', ctx.stepKey);
    return { key, value: workValue(item.index) };
  },
);
export const crashRedriveJob = job({ name: 'crash_job_redrive', onStepFailure: 'wait' }, () => {
  crashTotal(crashFanOut().map(crashFlakyWork).collect());
});

export function crashRedriveConfig(o: CrashRunOptions & { brokenFlag: string; failing: string[]; fixedMs: number }): RunConfig {
  const base = crashRunConfig(o);
  return {
    ops: {
      [FAN_OUT]: base.ops?.[FAN_OUT] ?? {},
      [FLAKY_WORK]: {
        config: {
          ledger: o.ledger,
          minMs: o.minMs ?? 100,
          maxMs: o.maxMs ?? 200,
          brokenFlag: o.brokenFlag,
          failing: o.failing,
          fixedMs: o.fixedMs,
        },
      },
      [TOTAL]: base.ops?.[TOTAL] ?? {},
    },
  };
}

export const crashDefs = new Definitions({ jobs: [crashJob, crashActivityJob, crashBatchJob, crashShardedJob, crashRedriveJob] });
export default crashDefs;

export interface CrashRunOptions {
  ledger: string;
  count?: number;
  yieldDelayMs?: number;
  minMs?: number;
  maxMs?: number;
}

export function crashRunConfig(o: CrashRunOptions): RunConfig {
  return {
    ops: {
      [FAN_OUT]: { config: { ledger: o.ledger, count: o.count ?? 200, yieldDelayMs: o.yieldDelayMs ?? 0 } },
      [WORK]: { config: { ledger: o.ledger, minMs: o.minMs ?? 100, maxMs: o.maxMs ?? 200 } },
      [TOTAL]: { config: { ledger: o.ledger } },
    },
  };
}

/** What crash_total must return when the fan-out attempt `attempt` yielded `count` keys. */
export function expectedTotal(count: number, attempt = 1): Total {
  const indexes = Array.from({ length: count }, (_, i) => i);
  return { sum: indexes.reduce((s, i) => s + workValue(i), 0), count, keys: indexes.map((i) => `a${attempt}_${i}`) };
}

// ---------------------------------------------------------------------------
// Reading the ledger
// ---------------------------------------------------------------------------

export interface LedgerLine {
  readonly event: 'start' | 'yield' | 'done';
  readonly stepKey: string;
  readonly pid: number;
  readonly at: number;
  readonly extra: string | undefined;
}

export function parseLedger(text: string): LedgerLine[] {
  const lines: LedgerLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const [event, stepKey, pid, at, extra] = raw.split(' ');
    // A line being written while we read may be cut short; only whole lines count.
    if ((event !== 'start' && event !== 'yield' && event !== 'done') || !stepKey || !pid || !at) continue;
    lines.push({ event, stepKey, pid: Number(pid), at: Number(at), extra });
  }
  return lines;
}

export function readLedger(path: string): LedgerLine[] {
  return existsSync(path) ? parseLedger(readFileSync(path, 'utf8')) : [];
}

/** Per step key: how many `start` and `done` lines (optionally only those matching `filter`). */
export function countByStep(
  lines: readonly LedgerLine[],
  filter: (l: LedgerLine) => boolean = () => true,
): Map<string, { starts: number; dones: number }> {
  const counts = new Map<string, { starts: number; dones: number }>();
  for (const line of lines) {
    if (line.event === 'yield' || !filter(line)) continue;
    const c = counts.get(line.stepKey) ?? { starts: 0, dones: 0 };
    if (line.event === 'start') c.starts++;
    else c.dones++;
    counts.set(line.stepKey, c);
  }
  return counts;
}

/** How many distinct crash_work steps have a `done` line. */
export function workDoneCount(lines: readonly LedgerLine[]): number {
  return new Set(lines.filter((l) => l.event === 'done' && l.stepKey.startsWith(`${WORK}[`)).map((l) => l.stepKey)).size;
}
