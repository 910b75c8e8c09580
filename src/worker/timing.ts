import { durationMs } from '../dsl/duration.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { DEFAULT_HEARTBEAT_RATE } from '../activities/heartbeatPacer.ts';

/**
 * Worker-side timings that decide how fast a run notices a dead worker and how fast a running op
 * notices a cancel. Both are Temporal worker options: they change no workflow command, so they can be
 * tuned per deployment without a patch (README, "Reliability"). The heartbeat rate, opgraph's own
 * worker setting, is read by workerHeartbeatRate below.
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
  heartbeatRate: 'OPGRAPH_HEARTBEAT_RATE',
} as const;

/** What a user may set: durations such as `'2s'` or `'500ms'` (CLI flags, environment). */
export interface WorkerTimingSettings {
  stickyTimeout?: string | undefined;
  heartbeatThrottle?: string | undefined;
  /** Heartbeats per second the worker's running ops send together when many run, e.g. `'50'`. */
  heartbeatRate?: string | undefined;
}

const FLAG_NAMES: Record<keyof WorkerTimingSettings, string> = {
  stickyTimeout: '--sticky-timeout',
  heartbeatThrottle: '--heartbeat-throttle',
  heartbeatRate: '--heartbeat-rate',
};

/** A setting from `settings` (CLI flags), else the environment; with the flag or variable it came from. */
function settingOf(
  env: NodeJS.ProcessEnv,
  settings: WorkerTimingSettings,
  names: Record<keyof WorkerTimingSettings, string>,
  key: keyof WorkerTimingSettings,
): { raw: string; source: string } | undefined {
  const fromSettings = settings[key]?.trim();
  const fromEnv = env[WORKER_TIMING_ENV[key]]?.trim();
  const raw = fromSettings || fromEnv;
  return raw ? { raw, source: fromSettings ? names[key] : WORKER_TIMING_ENV[key] } : undefined;
}

/**
 * The worker timings from `settings` (CLI flags), else the environment (OPGRAPH_STICKY_TIMEOUT,
 * OPGRAPH_HEARTBEAT_THROTTLE), else opgraph's defaults (2 s, 1 s). `names` words the error.
 */
export function workerTiming(
  env: NodeJS.ProcessEnv,
  settings: WorkerTimingSettings = {},
  names: Record<keyof WorkerTimingSettings, string> = FLAG_NAMES,
): WorkerTiming {
  const pick = (key: 'stickyTimeout' | 'heartbeatThrottle', fallbackMs: number): number => {
    const setting = settingOf(env, settings, names, key);
    if (!setting) return fallbackMs;
    const { raw, source } = setting;
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

/**
 * Heartbeats per second a worker's running ops send together once many run (`--heartbeat-rate`, else
 * OPGRAPH_HEARTBEAT_RATE, else 50): up to that many ops beat every heartbeat throttle; beyond it each
 * op beats less often (src/activities/heartbeatPacer.ts).
 */
export function workerHeartbeatRate(
  env: NodeJS.ProcessEnv,
  settings: WorkerTimingSettings = {},
  names: Record<keyof WorkerTimingSettings, string> = FLAG_NAMES,
): number {
  const setting = settingOf(env, settings, names, 'heartbeatRate');
  if (!setting) return DEFAULT_HEARTBEAT_RATE;
  const rate = Number(setting.raw);
  if (!Number.isFinite(rate) || rate <= 0) {
    throw new OpgraphError(
      `${setting.source} must be a positive number of heartbeats per second, got "${setting.raw}". Fix: e.g. ${setting.source}=50 (see README, "Reliability")`,
    );
  }
  return rate;
}
