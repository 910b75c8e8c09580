import type { Context } from '@temporalio/activity';

/**
 * Automatic heartbeats of the ops one worker runs, paced so that the server's load stays bounded
 * however many ops run at once.
 *
 * Every heartbeat that reaches the server updates the workflow's persisted state. One beat per
 * running op per second is cheap for ten ops and not for a thousand: 1,000 activity-mode keys of one
 * run sent ~1,000 updates/s to one workflow, which kept a PostgreSQL-backed Temporal server at a full
 * core and made the run 9× slower (bench/RESULTS.md, "Heartbeats"). So the ops share a per-worker
 * rate: up to `ratePerSecond` ops each beat at the fast cadence (500 ms here, sent at most once per
 * heartbeat throttle by the SDK); beyond that each op's gap grows to `running / ratePerSecond`
 * seconds, capped at half its heartbeat timeout so a live op never times out.
 *
 * A cancel reaches an op only in the answer to one of its heartbeats, so spreading them would
 * delay cancels. Instead, once any op of a run learns that it was cancelled (or that its workflow
 * is gone), every other op of that run on this worker beats at once and then at the fast cadence:
 * a cancelled run's ops all see `ctx.signal` within about a second, at any concurrency.
 */
export class HeartbeatPacer {
  private readonly beats = new Set<Beat>();
  /**
   * Distinct running activities: batch mode runs many steps inside one activity (one heartbeat stream,
   * one cancellation signal, so one abort listener however many of its steps beat).
   */
  private readonly activities = new Map<HeartbeatingActivity, { beats: number; onAbort: () => void }>();
  /** Runs with a cancelled op, until when their ops beat at the fast cadence. */
  private readonly hurried = new Map<string, number>();

  constructor(
    readonly ratePerSecond: number = DEFAULT_HEARTBEAT_RATE,
    private readonly random: () => number = Math.random,
  ) {
    if (!(ratePerSecond > 0))
      throw new RangeError(`heartbeat rate must be a positive number of heartbeats per second, got ${ratePerSecond}`);
  }

  /** Ops beating right now (distinct activities). */
  get running(): number {
    return this.activities.size;
  }

  /**
   * Heartbeats `activity` with `details()` until the returned function is called. `run` groups the
   * ops of one opgraph run, so a cancel seen by one of them hurries the others.
   */
  start(activity: HeartbeatingActivity, run: string, details: () => unknown): () => void {
    const timeoutMs = activity.info.heartbeatTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const floorMs = Math.max(MIN_GAP_MS, Math.min(timeoutMs / 4, FAST_GAP_MS));
    const beat: Beat = { activity, run, details, floorMs, ceilingMs: Math.max(floorMs, timeoutMs / 2), timer: undefined };
    this.beats.add(beat);
    let running = this.activities.get(activity);
    if (!running) {
      const onAbort = () => this.onCancelled(activity, run, activity.cancellationSignal.reason);
      activity.cancellationSignal.addEventListener('abort', onAbort, { once: true });
      running = { beats: 0, onAbort };
      this.activities.set(activity, running);
    }
    running.beats++;
    this.schedule(beat, this.gapFor(beat));
    return () => {
      if (!this.beats.delete(beat)) return;
      clearTimeout(beat.timer);
      const entry = this.activities.get(activity);
      if (entry && --entry.beats === 0) {
        activity.cancellationSignal.removeEventListener('abort', entry.onAbort);
        this.activities.delete(activity);
      }
    };
  }

  /** The gap before `beat`'s next heartbeat: fast while few ops run or its run is being cancelled. */
  gapFor(beat: Pick<Beat, 'run' | 'floorMs' | 'ceilingMs'>): number {
    if (this.isHurried(beat.run)) return beat.floorMs;
    const spreadMs = (this.running / this.ratePerSecond) * 1000;
    if (spreadMs <= beat.floorMs) return beat.floorMs;
    // Jitter (±25 %) so ops that started together do not beat together.
    const jittered = spreadMs * (0.75 + 0.5 * this.random());
    return Math.min(Math.max(jittered, beat.floorMs), beat.ceilingMs);
  }

  private schedule(beat: Beat, gapMs: number): void {
    clearTimeout(beat.timer);
    beat.timer = setTimeout(() => {
      if (!this.beats.has(beat)) return;
      beat.activity.heartbeat(beat.details());
      this.schedule(beat, this.gapFor(beat));
    }, gapMs);
    beat.timer.unref?.();
  }

  private isHurried(run: string): boolean {
    const until = this.hurried.get(run);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.hurried.delete(run);
    return false;
  }

  /** An activity of `run` was cancelled: the run's other ops ask the server now whether they are too. */
  private onCancelled(activity: HeartbeatingActivity, run: string, reason: unknown): void {
    if (!HURRYING_REASONS.has(reasonOf(reason)) || this.isHurried(run)) return;
    this.hurried.set(run, Date.now() + HURRY_MS);
    for (const other of this.beats) {
      if (other.activity === activity || other.run !== run || other.activity.cancellationSignal.aborted) continue;
      other.activity.heartbeat(other.details());
      this.schedule(other, other.floorMs);
    }
  }
}

/** What the pacer uses of an activity's Context (a narrow type, so tests can pass a stand-in). */
export type HeartbeatingActivity = Pick<Context, 'heartbeat' | 'cancellationSignal'> & {
  readonly info: Pick<Context['info'], 'heartbeatTimeoutMs'>;
};

interface Beat {
  readonly activity: HeartbeatingActivity;
  readonly run: string;
  readonly details: () => unknown;
  /** The fast cadence: 500 ms, or a quarter of a shorter heartbeat timeout. */
  readonly floorMs: number;
  /** Never longer than half the heartbeat timeout, so a live op is never presumed dead. */
  readonly ceilingMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Heartbeats per second a worker's running ops send together once more than this many run. */
export const DEFAULT_HEARTBEAT_RATE = 50;
/** Beats are in-process calls; the SDK sends at most one per op per heartbeat throttle (1 s by default). */
const FAST_GAP_MS = 500;
const MIN_GAP_MS = 50;
const DEFAULT_TIMEOUT_MS = 30_000;
/** How long a run with a cancelled op keeps its other ops at the fast cadence: its children are cancelled one by one. */
const HURRY_MS = 60_000;
/** The SDK's cancel reasons that mean the run (not this worker) is going away. */
const HURRYING_REASONS = new Set(['CANCELLED', 'NOT_FOUND']);

function reasonOf(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
