import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { workerHeartbeatRate, workerTiming } from '../../src/worker/timing.ts';
import { captureIO } from '../cli/capture.ts';

describe('worker timings (sticky timeout, heartbeat throttle)', () => {
  it('defaults to 2 s and 1 s: a dead worker stalls its runs ~2 s, a cancel reaches ctx.signal within ~1 s', () => {
    expect(workerTiming({})).toEqual({ stickyQueueScheduleToStartTimeout: 2_000, maxHeartbeatThrottleInterval: 1_000 });
  });

  it('reads OPGRAPH_STICKY_TIMEOUT / OPGRAPH_HEARTBEAT_THROTTLE; flags win over the environment', () => {
    const env = { OPGRAPH_STICKY_TIMEOUT: '10s', OPGRAPH_HEARTBEAT_THROTTLE: '250' };
    expect(workerTiming(env)).toEqual({ stickyQueueScheduleToStartTimeout: 10_000, maxHeartbeatThrottleInterval: 250 });
    expect(workerTiming(env, { stickyTimeout: '3s', heartbeatThrottle: '500ms' })).toEqual({
      stickyQueueScheduleToStartTimeout: 3_000,
      maxHeartbeatThrottleInterval: 500,
    });
  });

  it('names the flag or variable that holds a malformed duration', () => {
    expect(() => workerTiming({ OPGRAPH_HEARTBEAT_THROTTLE: 'soon' })).toThrow(
      /OPGRAPH_HEARTBEAT_THROTTLE must be a positive number .*got "soon".*Fix/,
    );
    expect(() => workerTiming({}, { stickyTimeout: '-2s' })).toThrow(/--sticky-timeout must be a positive/);
  });
});

describe('worker heartbeat rate', () => {
  it('defaults to 50 heartbeats/s; reads OPGRAPH_HEARTBEAT_RATE; the flag wins', () => {
    expect(workerHeartbeatRate({})).toBe(50);
    expect(workerHeartbeatRate({ OPGRAPH_HEARTBEAT_RATE: '200' })).toBe(200);
    expect(workerHeartbeatRate({ OPGRAPH_HEARTBEAT_RATE: '200' }, { heartbeatRate: '12.5' })).toBe(12.5);
  });

  it('names the flag or variable that holds a bad rate', () => {
    expect(() => workerHeartbeatRate({ OPGRAPH_HEARTBEAT_RATE: 'fast' })).toThrow(
      /OPGRAPH_HEARTBEAT_RATE must be a positive number of heartbeats per second, got "fast".*Fix/,
    );
    expect(() => workerHeartbeatRate({}, { heartbeatRate: '0' })).toThrow(/--heartbeat-rate must be a positive number/);
  });
});

describe('opgraph worker / dev timing flags', () => {
  it('refuse a malformed duration as a usage error naming the flag or variable, before connecting', async () => {
    const flag = captureIO({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(await runCli(['worker', '--processes', '1', '--sticky-timeout', 'soon'], flag.io)).toBe(2);
    expect(flag.stderr()).toMatch(/--sticky-timeout must be a positive number of milliseconds or a string like '30s'.*got "soon"/);
    const variable = captureIO({ TEMPORAL_ADDRESS: '127.0.0.1:1', OPGRAPH_HEARTBEAT_THROTTLE: '0s' });
    expect(await runCli(['worker', '--processes', '1'], variable.io)).toBe(2);
    expect(variable.stderr()).toMatch(/OPGRAPH_HEARTBEAT_THROTTLE must be a positive/);
    const rate = captureIO({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(await runCli(['worker', '--processes', '1', '--heartbeat-rate', '-3'], rate.io)).toBe(2);
    expect(rate.stderr()).toMatch(/--heartbeat-rate must be a positive number of heartbeats per second, got "-3"/);
  });
});
