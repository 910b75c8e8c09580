/**
 * The workflow-wide budget (DESIGN §4 Limits): one per workflow — job, mapped scope or shard —
 * shared by every step and map in it. It admits pending activities and pending child workflows up
 * to fixed limits (FIFO, so no map starves another) and keeps a projection of the workflow's
 * history events, which decides when a map must shard. Deterministic: plain promises, no timers.
 */
import { BUDGET } from '../dsl/limits.ts';

export type Pending = 'activity' | 'child';

export interface BudgetLimits {
  readonly pendingActivities: number;
  readonly pendingChildren: number;
  readonly historyEvents: number;
}

export const DEFAULT_LIMITS: BudgetLimits = {
  pendingActivities: BUDGET.pendingActivities,
  pendingChildren: BUDGET.pendingChildren,
  historyEvents: BUDGET.historyEvents,
};

/**
 * Called the first time the budget would make a command wait that code before the budget issued
 * at once; in a workflow it is `patched(…)`, so histories recorded before the budget replay with
 * the old behaviour (the budget then admits everything).
 */
export type BudgetGate = () => boolean;

export class WorkflowBudget {
  private readonly pending: Record<Pending, number> = { activity: 0, child: 0 };
  private readonly waiting: Record<Pending, (() => void)[]> = { activity: [], child: [] };
  private projected = 0;
  private gateAnswer: boolean | undefined;
  /** Most pending at once, per kind, over this workflow's life (for tests and benchmarks). */
  readonly peak: Record<Pending, number> = { activity: 0, child: 0 };

  constructor(
    readonly limits: BudgetLimits = DEFAULT_LIMITS,
    private readonly gate: BudgetGate = () => true,
  ) {}

  /**
   * Runs `fn` once a slot of `kind` is free, holding the slot until `fn` settles. With a free slot
   * `fn` is called at once and its own promise is returned: no extra ticks, so a workflow issues
   * its commands in exactly the order it did before the budget existed.
   */
  run<T>(kind: Pending, fn: () => Promise<T>): Promise<T> {
    if (this.pending[kind] < this.limit(kind) || !this.enforced()) {
      this.take(kind);
      return this.hold(kind, fn);
    }
    // Held back: a finishing command hands its slot straight to the longest-waiting one (FIFO).
    return new Promise<void>((resolve) => this.waiting[kind].push(resolve)).then(() => this.hold(kind, fn));
  }

  private take(kind: Pending): void {
    this.pending[kind]++;
    this.peak[kind] = Math.max(this.peak[kind], this.pending[kind]);
  }

  /** Calls `fn` in a slot already taken; frees the slot when `fn` settles. */
  private hold<T>(kind: Pending, fn: () => Promise<T>): Promise<T> {
    let settled: Promise<T>;
    try {
      settled = fn();
    } catch (err) {
      this.release(kind);
      throw err;
    }
    settled.then(
      () => this.release(kind),
      () => this.release(kind),
    );
    return settled;
  }

  /** Events this workflow's history is projected to hold, reserved so far. */
  get projectedEvents(): number {
    return this.projected;
  }

  /** Events still free under the history budget. */
  get freeEvents(): number {
    return Math.max(0, this.limits.historyEvents - this.projected);
  }

  /** Reserves `events` if they fit in what is left; false (nothing reserved) if not. */
  tryReserveEvents(events: number): boolean {
    if (this.projected + events > this.limits.historyEvents) return false;
    this.projected += events;
    return true;
  }

  /** Reserves `events` whether or not they fit: the least a step or map can cost (the margin under Temporal's limit absorbs it). */
  reserveEvents(events: number): void {
    this.projected += events;
  }

  private limit(kind: Pending): number {
    return kind === 'activity' ? this.limits.pendingActivities : this.limits.pendingChildren;
  }

  private release(kind: Pending): void {
    const next = this.waiting[kind].shift();
    if (next) next(); // the slot passes on: pending stays the same
    else this.pending[kind]--;
  }

  /**
   * Whether this workflow runs under the budget: the gate is asked once, the first time the budget
   * would change a command (hold one back, or shard differently than code before it did).
   */
  enforced(): boolean {
    this.gateAnswer ??= this.gate();
    return this.gateAnswer;
  }
}
