/**
 * The workflow-wide budget (DESIGN §4 Limits): one per workflow — job, mapped scope or shard —
 * shared by every step and map in it. It admits pending activities and pending child workflows up
 * to fixed limits (FIFO, so no map starves another) and keeps a projection of the workflow's
 * history events, which decides when a map must shard. Deterministic: plain promises, no timers.
 */
import { BUDGET, PAYLOAD } from '../dsl/limits.ts';

export type Pending = 'activity' | 'child';

export interface BudgetLimits {
  readonly pendingActivities: number;
  readonly pendingChildren: number;
  readonly historyEvents: number;
  /** Bytes of input of all pending commands together (bounds one workflow-task completion). */
  readonly pendingInputBytes?: number;
}

export const DEFAULT_LIMITS: BudgetLimits = {
  pendingActivities: BUDGET.pendingActivities,
  pendingChildren: BUDGET.pendingChildren,
  historyEvents: BUDGET.historyEvents,
  pendingInputBytes: PAYLOAD.pendingInputs,
};

interface Waiter {
  readonly bytes: number;
  readonly admit: () => void;
}

/** A FIFO with O(1) removal from the front (a map may hold back thousands of commands). */
class Queue<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * Called the first time the budget would make a command wait that code before the budget issued
 * at once; in a workflow it is `patched(…)`, so histories recorded before the budget replay with
 * the old behaviour (the budget then admits everything).
 */
export type BudgetGate = () => boolean;

export class WorkflowBudget {
  private readonly pending: Record<Pending, number> = { activity: 0, child: 0 };
  /** Commands held back, per kind, in arrival order. */
  private readonly waiting: Record<Pending, Queue<Waiter>> = { activity: new Queue(), child: new Queue() };
  private pendingBytes = 0;
  private projected = 0;
  private gateAnswer: boolean | undefined;
  /** Most pending at once, per kind, over this workflow's life (for tests and benchmarks). */
  readonly peak: Record<Pending | 'bytes', number> = { activity: 0, child: 0, bytes: 0 };

  constructor(
    readonly limits: BudgetLimits = DEFAULT_LIMITS,
    private readonly gate: BudgetGate = () => true,
  ) {}

  /**
   * Runs `fn` once a slot of `kind` is free, holding the slot until `fn` settles. With a free slot
   * `fn` is called at once and its own promise is returned: no extra ticks, so a workflow issues
   * its commands in exactly the order it did before the budget existed.
   */
  run<T>(kind: Pending, fn: () => Promise<T>, inputBytes = 0): Promise<T> {
    const bytes = Math.max(0, inputBytes);
    if (this.admissible(kind, bytes) || !this.enforced()) {
      this.take(kind, bytes);
      return this.hold(kind, bytes, fn);
    }
    // Held back: finishing commands admit waiters in arrival order, as their slots and bytes allow.
    return new Promise<void>((admit) => this.waiting[kind].push({ bytes, admit })).then(() => this.hold(kind, bytes, fn));
  }

  /** Whether a command of `kind` with `bytes` of input may go now (and no earlier one of its kind waits). */
  private admissible(kind: Pending, bytes: number): boolean {
    if (this.pending[kind] >= this.limit(kind)) return false;
    if (this.waiting[kind].length > 0) return false;
    return this.fitsBytes(bytes);
  }

  private take(kind: Pending, bytes: number): void {
    this.pending[kind]++;
    this.pendingBytes += bytes;
    this.peak[kind] = Math.max(this.peak[kind], this.pending[kind]);
    this.peak.bytes = Math.max(this.peak.bytes, this.pendingBytes);
  }

  /** Calls `fn` in a slot already taken; frees the slot when `fn` settles. */
  private hold<T>(kind: Pending, bytes: number, fn: () => Promise<T>): Promise<T> {
    let settled: Promise<T>;
    try {
      settled = fn();
    } catch (err) {
      this.release(kind, bytes);
      throw err;
    }
    settled.then(
      () => this.release(kind, bytes),
      () => this.release(kind, bytes),
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

  private release(kind: Pending, bytes: number): void {
    this.pending[kind]--;
    this.pendingBytes -= bytes;
    // The freed slot and bytes go to the longest-waiting command of the same kind first, then of the other.
    this.admitWaiting(kind);
    this.admitWaiting(kind === 'activity' ? 'child' : 'activity');
  }

  private admitWaiting(kind: Pending): void {
    const queue = this.waiting[kind];
    for (let next = queue.peek(); next && this.pending[kind] < this.limit(kind) && this.fitsBytes(next.bytes); next = queue.peek()) {
      queue.shift();
      this.take(kind, next.bytes);
      next.admit();
    }
  }

  /** One command alone always fits (a payload is at most 2 MiB): only many at once are bounded. */
  private fitsBytes(bytes: number): boolean {
    const maxBytes = this.limits.pendingInputBytes ?? Number.POSITIVE_INFINITY;
    return this.pendingBytes === 0 || this.pendingBytes + bytes <= maxBytes;
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
