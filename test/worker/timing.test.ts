import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { workerTiming } from '../../src/worker/timing.ts';
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

describe('opgraph worker / dev timing flags', () => {
  it('refuse a malformed duration as a usage error naming the flag or variable, before connecting', async () => {
    const flag = captureIO({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(await runCli(['worker', '--processes', '1', '--sticky-timeout', 'soon'], flag.io)).toBe(2);
    expect(flag.stderr()).toMatch(/--sticky-timeout must be a positive number of milliseconds or a string like '30s'.*got "soon"/);
    const variable = captureIO({ TEMPORAL_ADDRESS: '127.0.0.1:1', OPGRAPH_HEARTBEAT_THROTTLE: '0s' });
    expect(await runCli(['worker', '--processes', '1'], variable.io)).toBe(2);
    expect(variable.stderr()).toMatch(/OPGRAPH_HEARTBEAT_THROTTLE must be a positive/);
  });
});
