import { durationMs } from '../dsl/duration.ts';
import { OpgraphError } from '../dsl/errors.ts';

/**
 * Worker-side timings that decide how fast a run notices a dead worker and how fast a running op
 * notices a cancel. Both are worker options: they change no workflow command, so they can be tuned
 * per deployment without a patch (README, "Reliability").
 */
export interface WorkerTiming {
  /**
   * How long a workflow task waits on a worker's sticky queue before the server hands it to any
   * worker on the task queue (which then replays the history). Temporal's default is 10 s: a
   * SIGKILLed worker's cached runs stall that long.
   */
  stickyQueueScheduleToStartTimeout: number;
  /**
   * The longest pause between two heartbeats the SDK sends for a running op. A cancel reaches an op
   * only in a heartbeat's response, so this bounds how long `ctx.signal` takes to fire. Temporal's
   * throttle is 0.8 × the heartbeat timeout (24 s for opgraph's default 30 s), capped by this.
   */
  maxHeartbeatThrottleInterval: number;
}

export const DEFAULT_STICKY_TIMEOUT_MS = 2_000;
export const DEFAULT_HEARTBEAT_THROTTLE_MS = 1_000;

export const WORKER_TIMING_ENV = {
  stickyTimeout: 'OPGRAPH_STICKY_TIMEOUT',
  heartbeatThrottle: 'OPGRAPH_HEARTBEAT_THROTTLE',
} as const;

/** What a user may set: durations such as `'2s'` or `'500ms'` (CLI flags, environment). */
export interface WorkerTimingSettings {
  stickyTimeout?: string | undefined;
  heartbeatThrottle?: string | undefined;
}

/**
 * The worker timings from `settings` (CLI flags), else the environment (OPGRAPH_STICKY_TIMEOUT,
 * OPGRAPH_HEARTBEAT_THROTTLE), else opgraph's defaults (2 s, 1 s). `names` words the error.
 */
export function workerTiming(
  env: NodeJS.ProcessEnv,
  settings: WorkerTimingSettings = {},
  names: Record<keyof WorkerTimingSettings, string> = { stickyTimeout: '--sticky-timeout', heartbeatThrottle: '--heartbeat-throttle' },
): WorkerTiming {
  const pick = (key: keyof WorkerTimingSettings, fallbackMs: number): number => {
    const fromSettings = settings[key]?.trim();
    const fromEnv = env[WORKER_TIMING_ENV[key]]?.trim();
    const raw = fromSettings || fromEnv;
    if (!raw) return fallbackMs;
    const source = fromSettings ? names[key] : WORKER_TIMING_ENV[key];
    try {
      return durationMs(/^\d+$/.test(raw) ? Number(raw) : raw, source);
    } catch (err) {
      throw new OpgraphError(`${(err as Error).message}. Fix: e.g. ${source}=2s (see README, "Reliability")`, { cause: err });
    }
  };
  return {
    stickyQueueScheduleToStartTimeout: pick('stickyTimeout', DEFAULT_STICKY_TIMEOUT_MS),
    maxHeartbeatThrottleInterval: pick('heartbeatThrottle', DEFAULT_HEARTBEAT_THROTTLE_MS),
  };
}
