/**
 * Redrive in place (a job's `onStepFailure: 'wait'`): a unit of work that ends with failed steps
 * waits in the job workflow instead of failing the run. Its siblings go on; what is downstream of it
 * waits for it, as it waits for any step still running. A redrive runs the unit again — a step
 * gets a fresh retry budget; a key (child or batch item) or a shard runs again taking over every
 * record that did not fail, so no succeeded step runs twice — and a give-up ends it as it would
 * have ended without the option.
 *
 * Units are what the job workflow itself runs: its steps (the job's own and those of keys run as
 * its activities), the keys it runs as children or batch items, and its shards. Child and shard
 * workflows never wait: they end with their failures, and their parent's unit waits.
 * Deterministic, host-neutral: no timers, no Temporal.
 */
import { parseStepKey } from '../dsl/keys.ts';
import type { DimensionOptions } from '../dsl/plan.ts';
import type { ScopeResult, ShardResult, StepError, StepRecord, StoredRef } from '../dsl/protocol.ts';
import { storeInChunks } from './results.ts';
import { untoleratedFailures } from './tolerance.ts';
import type { DimensionRequest, ScopeEngine } from './types.ts';

export type Verdict = 'redrive' | 'give-up';

/**
 * Gate: whole keys wait, not their steps. A key run inline (mode 'activity') whose step failed waits
 * as a key (outside its map's window, like a child key) and only keys of the job's top-level maps
 * and shards wait (a nested one fails its outer key, which waits). Runs recorded before it parked
 * the steps of inline keys where they failed, holding their lane.
 */
export const REDRIVE_KEYS_PATCH = 'opgraph-redrive-whole-keys';

export interface WaitingStep {
  readonly stepKey: string;
  readonly error?: StepError | undefined;
}

interface Unit {
  readonly id: number;
  /** Its failed steps, as far as its result lists them. */
  readonly failed: readonly WaitingStep[];
  /** Failed steps beyond those listed (a result's failure list is cut short). */
  readonly unlisted: number;
  /** History events running it again costs this workflow. */
  readonly events: number;
  verdict?: Verdict;
}

/** What the waiting steps look like from outside (progress, status, the update's answer). */
export interface WaitingSummary {
  /** Failed steps waiting, listed or not. */
  readonly steps: number;
  /** The first of them, sorted by step key. */
  readonly stepKeys: string[];
}

const SHOWN = 20;

/** The units of one job workflow that wait for a redrive, and the verdicts given to them. */
export class WaitingFailures {
  private readonly units = new Map<number, Unit>();
  private next = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly waitUntil: (ready: () => boolean) => Promise<void>) {}

  /** Parks a unit until a verdict (a cancelled run's wait throws, as any wait does). */
  async park(failed: readonly WaitingStep[], unlisted: number, events: number): Promise<Verdict> {
    // After a give-up the run ends as it would have without the option: later failures do not wait either.
    if (this.gaveUp !== undefined) return 'give-up';
    const unit: Unit = { id: this.next++, failed, unlisted, events };
    this.units.set(unit.id, unit);
    this.changed();
    try {
      await this.waitUntil(() => unit.verdict !== undefined);
    } finally {
      if (this.units.delete(unit.id)) this.changed();
    }
    return unit.verdict ?? 'give-up';
  }

  get waiting(): boolean {
    return this.units.size > 0;
  }

  summary(): WaitingSummary {
    let steps = 0;
    const listed: string[] = [];
    for (const unit of this.undecided()) {
      steps += unit.failed.length + unit.unlisted;
      for (const step of unit.failed) listed.push(step.stepKey);
    }
    // By step key, not by when each failed (which differs from run to run).
    return { steps, stepKeys: listed.sort().slice(0, SHOWN) };
  }

  /**
   * The units a redrive of `selection` runs again: every waiting unit when it is empty; else the
   * units holding each given step key, or each waiting step of an op named alone (`op`, `op[*]`).
   * A key that is not waiting is a problem, named with the steps that are.
   */
  select(selection: readonly string[]): { units: Unit[]; events: number } | { problem: string } {
    const waiting = this.undecided();
    if (waiting.length === 0) return { problem: 'no failed step of this run is waiting for a redrive' };
    const chosen = new Set<Unit>();
    for (const raw of selection) {
      const pattern = raw.trim();
      const whole = /^([^[\]]+)(?:\[\*\])?$/.exec(pattern)?.[1];
      const matches = waiting.filter((u) =>
        u.failed.some((s) => s.stepKey === pattern || (whole !== undefined && parseStepKey(s.stepKey).node === whole)),
      );
      if (matches.length === 0) {
        const { steps, stepKeys } = this.summary();
        const unlisted = waiting.some((u) => u.unlisted > 0)
          ? ' (a shard or key with many failures lists only its first ones; redrive without step keys to run them all)'
          : '';
        return {
          problem: `step "${pattern}" is not a failed step waiting for a redrive; ${steps} waiting: ${stepKeys.join(', ')}${steps > stepKeys.length ? ', …' : ''}${unlisted}`,
        };
      }
      for (const unit of matches) chosen.add(unit);
    }
    const units = selection.length === 0 ? waiting : [...chosen];
    return { units, events: units.reduce((sum, u) => sum + u.events, 0) };
  }

  /** Why the run gave up (the give-up update, or the job's redriveTimeout); undefined unless it did. */
  gaveUp: string | undefined;

  /** Gives `units` (every waiting one when undefined) their verdict; returns the step keys they hold. */
  decide(verdict: Verdict, units: readonly Unit[] = this.undecided(), reason?: string): string[] {
    if (verdict === 'give-up') this.gaveUp ??= reason ?? 'given up';
    const keys: string[] = [];
    for (const unit of units) {
      if (unit.verdict !== undefined) continue;
      unit.verdict = verdict;
      keys.push(...unit.failed.map((s) => s.stepKey));
    }
    this.changed();
    return keys;
  }

  /** Calls `listener` whenever units start or stop waiting. */
  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private undecided(): Unit[] {
    return [...this.units.values()].filter((u) => u.verdict === undefined);
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Whether a record is taken over by a unit's next run: everything but its untolerated failures and the steps they abandoned. */
export function reusable(record: StepRecord): boolean {
  return record.status === 'SUCCESS' || record.status === 'SKIPPED' || (record.status === 'FAILURE' && record.tolerated === true);
}

/**
 * Whether a unit that ended with `failed` steps waits here for a redrive: in the job workflow of a
 * job with onStepFailure 'wait', for a map of the job's top level (a nested map's failed key or shard
 * fails its outer key, which waits: a waiting inner one would hold the outer key's lane) and not for
 * a map with toleratedFailures. `inline`: a key run in this workflow (mode 'activity'). Runs recorded
 * before REDRIVE_KEYS_PATCH parked inline keys' steps themselves, and keys and shards of any map.
 */
export function waitsHere(
  engine: ScopeEngine,
  request: DimensionRequest,
  options: DimensionOptions,
  failed: () => boolean,
  inline: boolean,
): boolean {
  // `failed` is asked only where failures wait: every key of every other job passes through here.
  if (!engine.failures || options.toleratedFailures || !failed()) return false;
  const topLevel = request.outerKeys.length === 0;
  if (topLevel && !inline) return true;
  return engine.patched(REDRIVE_KEYS_PATCH) ? topLevel : !inline;
}

/** How a kind of unit (a key, a shard) reports its failures and keeps its records for its next run. */
interface UnitKind<R> {
  failures(result: R): { failed: WaitingStep[]; unlisted: number };
  /** Synchronous where nothing is stored (a shard's parts): an await there would shift the workflow's commands by a tick. */
  kept(result: R): StoredRef[] | Promise<StoredRef[]>;
}

/**
 * A unit's result that ended with failures, in a workflow whose failures wait: parks it, and runs it
 * again on each redrive (with the records it keeps as `reusedParts`) until it ends without
 * untolerated failures or is given up. `rerun(parts, drive)` runs the unit again.
 */
async function settle<R>(
  engine: ScopeEngine,
  kind: UnitKind<R>,
  first: R,
  events: number,
  rerun: (reusedParts: StoredRef[], drive: number) => Promise<R>,
  redriving: (result: R) => void = () => {},
): Promise<R> {
  const failures = engine.failures;
  let result = first;
  for (let drive = 1; failures; drive++) {
    const { failed, unlisted } = kind.failures(result);
    if (failed.length === 0) return result;
    if ((await failures.park(failed, unlisted, events)) === 'give-up') return result;
    redriving(result);
    const kept = kind.kept(result);
    result = await rerun(kept instanceof Promise ? await kept : kept, drive);
  }
  return result;
}

/** A key (child, batch item or inline): what did not fail is stored for its next run. */
export function settleKey(
  engine: ScopeEngine,
  first: ScopeResult,
  events: number,
  rerun: (reusedParts: StoredRef[], drive: number) => Promise<ScopeResult>,
  /** Called with the result about to run again (its failed and abandoned steps are counted again by the rerun). */
  redriving?: (result: ScopeResult) => void,
): Promise<ScopeResult> {
  const kind: UnitKind<ScopeResult> = {
    failures: (result) => ({ failed: untoleratedFailures(result), unlisted: 0 }),
    kept: (result) => keptParts(engine, result),
  };
  return settle(engine, kind, first, events, rerun, redriving);
}

/** A shard: its stored records are taken over (filtered as they load), the failed keys run again. */
export function settleShard(
  engine: ScopeEngine,
  first: ShardResult,
  events: number,
  rerun: (reusedParts: StoredRef[], drive: number) => Promise<ShardResult>,
): Promise<ShardResult> {
  const kind: UnitKind<ShardResult> = {
    failures: (result) => {
      const failed = result.failures.filter((f) => !f.tolerated);
      // Its failure list is cut short; its summary counts them all.
      const counted = Object.values(result.nodes).reduce((sum, n) => sum + (n.statuses.FAILURE ?? 0), 0);
      return { failed, unlisted: Math.max(0, counted - failed.length) };
    },
    kept: (result) => result.parts,
  };
  return settle(engine, kind, first, events, rerun);
}

/** A key result's records for its next run: the inline ones it keeps, stored, and its stored parts (filtered as they load). */
async function keptParts(engine: ScopeEngine, result: ScopeResult): Promise<StoredRef[]> {
  const kept = Object.fromEntries(Object.entries(result.steps).filter(([, r]) => reusable(r)));
  const inline = Object.keys(kept).length > 0 ? await storeInChunks(kept, engine) : [];
  return [...inline, ...(result.parts ?? [])];
}

/** `waiting: 3 failed steps (a[k1], a[k2], b)` for progress and status. */
export function waitingText(summary: WaitingSummary): string {
  const more = summary.steps > summary.stepKeys.length ? ', …' : '';
  return `waiting: ${summary.steps} failed step${summary.steps === 1 ? '' : 's'} (${summary.stepKeys.join(', ')}${more})`;
}

/** Lanes for redriven units: at most `limit()` run at once (the map's window), the rest wait their turn in order. */
export class Lanes {
  private active = 0;
  private readonly queue: number[] = [];
  private ticket = 0;

  constructor(
    private readonly limit: () => number,
    private readonly waitUntil: (ready: () => boolean) => Promise<void>,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const mine = this.ticket++;
    this.queue.push(mine);
    await this.waitUntil(() => this.queue[0] === mine && this.active < Math.max(1, this.limit()));
    this.queue.shift();
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
    }
  }
}
