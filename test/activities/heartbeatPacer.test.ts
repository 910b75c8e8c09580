/**
 * The per-worker heartbeat pacing (src/activities/heartbeatPacer.ts), with fake timers and stand-in
 * activities: few ops beat at the fast cadence, many share the worker's rate without ever passing
 * half their heartbeat timeout, and a cancel seen by one op of a run makes its siblings beat at once.
 */
import { CancelledFailure } from '@temporalio/activity';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatPacer, type HeartbeatingActivity } from '../../src/activities/heartbeatPacer.ts';

interface StandIn extends HeartbeatingActivity {
  beats: number[];
  cancel(reason: string): void;
}

function standIn(heartbeatTimeoutMs = 30_000): StandIn {
  const controller = new AbortController();
  const beats: number[] = [];
  return {
    info: { heartbeatTimeoutMs },
    cancellationSignal: controller.signal,
    heartbeat: () => beats.push(Date.now()),
    beats,
    cancel: (reason) => controller.abort(new CancelledFailure(reason)),
  };
}

/** Starts `count` ops of `run` on `pacer`; returns them with their stop functions. */
function startOps(pacer: HeartbeatPacer, run: string, count: number, timeoutMs?: number) {
  return Array.from({ length: count }, () => {
    const activity = standIn(timeoutMs);
    return { activity, stop: pacer.start(activity, run, () => ({ run })) };
  });
}

const totalBeats = (ops: { activity: StandIn }[]) => ops.reduce((n, op) => n + op.activity.beats.length, 0);

function longestGap(beats: number[], from: number): number {
  let last = from;
  let longest = 0;
  for (const at of beats) {
    longest = Math.max(longest, at - last);
    last = at;
  }
  return longest;
}

describe('HeartbeatPacer', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('few running ops beat every 500 ms (the SDK sends one per throttle interval)', () => {
    const pacer = new HeartbeatPacer(50);
    const ops = startOps(pacer, 'r1', 10);
    vi.advanceTimersByTime(5_000);
    for (const { activity } of ops) expect(activity.beats).toHaveLength(10);
  });

  it('many running ops share the rate: 200 ops at 50/s send ~50 beats/s, not 200', () => {
    const pacer = new HeartbeatPacer(50);
    const ops = startOps(pacer, 'r1', 200);
    vi.advanceTimersByTime(60_000);
    const perSecond = totalBeats(ops) / 60;
    expect(perSecond).toBeGreaterThan(40);
    expect(perSecond).toBeLessThan(60);
    // Each op still beats every ~4 s (jittered ±25 %).
    for (const { activity } of ops) expect(longestGap(activity.beats, 0)).toBeLessThanOrEqual(5_000);
  });

  it('never lets an op go longer than half its heartbeat timeout without a beat, however many run', () => {
    const pacer = new HeartbeatPacer(50);
    const ops = startOps(pacer, 'r1', 1_000, 30_000);
    vi.advanceTimersByTime(90_000);
    for (const { activity } of ops) expect(longestGap(activity.beats, 0)).toBeLessThanOrEqual(15_000);
    // 1,000 ops would need 20 s gaps for 50/s; the 15 s cap gives ~67/s instead of 1,000/s unpaced.
    expect(totalBeats(ops) / 90).toBeLessThan(70);
  });

  it('respects short heartbeat timeouts: a quarter of the timeout while few run', () => {
    const pacer = new HeartbeatPacer(50);
    const [op] = startOps(pacer, 'r1', 1, 1_000);
    vi.advanceTimersByTime(2_000);
    expect(op?.activity.beats).toEqual([250, 500, 750, 1000, 1250, 1500, 1750, 2000]);
  });

  it('counts a batch activity once, with one abort listener, however many of its steps beat', () => {
    const pacer = new HeartbeatPacer(50);
    const batch = standIn();
    const listen = vi.spyOn(batch.cancellationSignal, 'addEventListener');
    const unlisten = vi.spyOn(batch.cancellationSignal, 'removeEventListener');
    const stops = Array.from({ length: 20 }, () => pacer.start(batch, 'r1', () => undefined));
    expect(pacer.running).toBe(1);
    // Node warns (MaxListenersExceededWarning) past 10 listeners on one signal: a batch runs up to 1,000 steps.
    expect(listen).toHaveBeenCalledTimes(1);
    stops.slice(0, 19).forEach((stop) => stop());
    expect(pacer.running).toBe(1);
    expect(unlisten).not.toHaveBeenCalled();
    stops[19]?.();
    expect(pacer.running).toBe(0);
    expect(unlisten).toHaveBeenCalledTimes(1);
  });

  it('a cancelled op makes the other ops of its run beat at once and then at the fast cadence; other runs keep their pace', () => {
    const pacer = new HeartbeatPacer(10);
    const runA = startOps(pacer, 'A', 100);
    const runB = startOps(pacer, 'B', 100);
    // 200 ops at 10/s: gaps of 15 s (the cap). Only the first few ops, started while few ran, have beaten 2 s in.
    vi.advanceTimersByTime(2_000);
    const before = (ops: typeof runA) => ops.map(({ activity }) => activity.beats.length);
    const beforeA = before(runA);
    const beforeB = before(runB);
    expect(totalBeats(runA) + totalBeats(runB)).toBeLessThan(30);

    runA[0]?.activity.cancel('CANCELLED');
    // Synchronously: each of A's 99 other ops asked the server (in its heartbeat's answer) whether it is cancelled too.
    runA.slice(1).forEach(({ activity }, i) => expect(activity.beats.length - (beforeA[i + 1] ?? 0)).toBe(1));
    vi.advanceTimersByTime(1_000);
    // …and then every 500 ms: now, +500 ms, +1 s.
    runA.slice(1).forEach(({ activity }, i) => expect(activity.beats.length - (beforeA[i + 1] ?? 0)).toBe(3));
    expect(before(runB)).toEqual(beforeB);
  });

  it('does not hurry a run when its op stops for the worker shutting down or a heartbeat timeout', () => {
    const pacer = new HeartbeatPacer(10);
    const ops = startOps(pacer, 'A', 100);
    ops[0]?.activity.cancel('WORKER_SHUTDOWN');
    ops[1]?.activity.cancel('TIMED_OUT');
    expect(totalBeats(ops)).toBe(0);
  });

  it('stops beating when the op ends', () => {
    const pacer = new HeartbeatPacer(50);
    const [op] = startOps(pacer, 'r1', 1);
    vi.advanceTimersByTime(1_000);
    op?.stop();
    vi.advanceTimersByTime(5_000);
    expect(op?.activity.beats).toEqual([500, 1000]);
    expect(pacer.running).toBe(0);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => new HeartbeatPacer(0)).toThrow(/positive number of heartbeats per second, got 0/);
  });
});
