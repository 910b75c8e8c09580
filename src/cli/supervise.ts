/**
 * `opgraph worker --processes N`: N single-process workers as child processes on one task queue
 * (Temporal spreads the tasks across them), supervised: a child that dies is started again after an
 * exponential backoff (1 s, 2 s, 4 s … at most 30 s; back to 1 s once a child has run for a
 * minute), each restart logged with how the child ended and the next delay. Ctrl+C / SIGTERM is
 * forwarded to every child and nothing is restarted after it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EXIT } from './errors.ts';

export interface RestartPolicy {
  /** Delay before the first restart of a child (and after a healthy run). */
  initialDelayMs: number;
  /** Cap of the doubling delay. */
  maxDelayMs: number;
  /** A child that ran at least this long was healthy: its next restart waits initialDelayMs again. */
  resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialDelayMs: 1_000, maxDelayMs: 30_000, resetAfterMs: 60_000 };

/**
 * Delay before restarting a child that ran for `ranMs` and was last restarted after `previousDelayMs`
 * (undefined: never restarted). Pure.
 */
export function nextRestartDelay(
  previousDelayMs: number | undefined,
  ranMs: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): number {
  if (previousDelayMs === undefined || ranMs >= policy.resetAfterMs) return policy.initialDelayMs;
  return Math.min(policy.maxDelayMs, previousDelayMs * 2);
}

/** "250 ms", "1 s", "1.5 s". */
export function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`;
}

/** "exited with code 1" / "was killed by SIGKILL". */
export function describeChildExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export interface SuperviseOptions {
  processes: number;
  /** node, and the arguments that start one single-process worker (per slot, 1-based, when they differ). */
  command: string;
  args: readonly string[] | ((slot: number) => readonly string[]);
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  policy?: RestartPolicy;
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  startedAt: number;
  lastDelayMs: number | undefined;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs and supervises the children until SIGINT / SIGTERM (forwarded; exit 0 when every child then
 * exits cleanly, 1 otherwise), or until a child exits with the usage-error code 2 (bad module or
 * options: restarting cannot help, so every child is stopped and 2 is returned).
 */
export function superviseProcesses(o: SuperviseOptions): Promise<number> {
  const policy = o.policy ?? DEFAULT_RESTART_POLICY;
  const slots: Slot[] = Array.from({ length: o.processes }, (_, i) => ({
    index: i + 1,
    child: undefined,
    startedAt: 0,
    lastDelayMs: undefined,
    restarts: 0,
    timer: undefined,
  }));
  let stopping: NodeJS.Signals | 'usage' | undefined;
  let failedOnStop = false;

  return new Promise<number>((resolve) => {
    const finishIfDone = (): void => {
      if (!stopping || slots.some((s) => s.child)) return;
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      o.log(`opgraph worker: all ${o.processes} worker processes stopped`);
      resolve(stopping === 'usage' ? EXIT.usage : failedOnStop ? EXIT.failed : EXIT.ok);
    };

    const stopAll = (signal: NodeJS.Signals, reason: NodeJS.Signals | 'usage'): void => {
      if (!stopping) stopping = reason;
      for (const slot of slots) {
        if (slot.timer) clearTimeout(slot.timer);
        slot.timer = undefined;
        if (slot.child && slot.child.exitCode === null && slot.child.signalCode === null) slot.child.kill(signal);
      }
      finishIfDone();
    };
    const onInt = (): void => stopAll('SIGINT', 'SIGINT');
    const onTerm = (): void => stopAll('SIGTERM', 'SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);

    const start = (slot: Slot): void => {
      slot.timer = undefined;
      if (stopping) return;
      const args = typeof o.args === 'function' ? o.args(slot.index) : o.args;
      const child = spawn(o.command, [...args], { cwd: o.cwd, env: o.env, stdio: 'inherit' });
      slot.child = child;
      slot.startedAt = Date.now();
      o.log(
        `opgraph worker: process ${slot.index} started (pid ${child.pid ?? '?'})${slot.restarts > 0 ? `, restart #${slot.restarts}` : ''}`,
      );
      let ended = false;
      const onEnd = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (ended) return;
        ended = true;
        slot.child = undefined;
        const ranMs = Date.now() - slot.startedAt;
        const how = `process ${slot.index} (pid ${child.pid ?? '?'}) ${describeChildExit(code, signal)} after ${(ranMs / 1000).toFixed(1)} s`;
        if (stopping) {
          if (stopping !== 'usage' && code !== 0 && signal === null) failedOnStop = true;
          finishIfDone();
          return;
        }
        if (code === EXIT.usage) {
          o.log(`opgraph worker: ${how}: a usage or definitions error, which a restart cannot fix; stopping the other processes`);
          stopAll('SIGTERM', 'usage');
          return;
        }
        const delay = nextRestartDelay(slot.lastDelayMs, ranMs, policy);
        slot.lastDelayMs = delay;
        slot.restarts += 1;
        o.log(`opgraph worker: ${how}; restarting it in ${formatDelay(delay)} (restart #${slot.restarts})`);
        slot.timer = setTimeout(() => start(slot), delay);
      };
      child.once('exit', onEnd);
      child.once('error', (err) => {
        o.log(`opgraph worker: process ${slot.index} could not be started: ${err.message}`);
        onEnd(1, null);
      });
    };

    o.log(`opgraph worker: starting ${o.processes} worker processes (a process that dies is restarted; Ctrl+C stops them all)`);
    for (const slot of slots) start(slot);
  });
}
