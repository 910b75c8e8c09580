import { describe, expect, it } from 'vitest';
import { job, op, RetryPolicy } from '../../src/index.ts';
import { retryDelayMs } from '../../src/engine/retry.ts';

describe('RetryPolicy delays (Dagster calculate_delay)', () => {
  const half = () => 0.5;
  it('plain delay, linear and exponential backoff', () => {
    expect(retryDelayMs({ maxRetries: 3, delay: 2 }, 3, half)).toBe(2000);
    expect(retryDelayMs({ maxRetries: 3, delay: 2, backoff: 'linear' }, 3, half)).toBe(6000);
    expect(retryDelayMs({ maxRetries: 3, delay: 2, backoff: 'exponential' }, 3, half)).toBe(14_000);
  });
  it('full and plus-minus jitter use the (seeded) random source', () => {
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'full' }, 1, half)).toBe(2000);
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'plus_minus' }, 1, () => 1)).toBe(6000);
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'plus_minus' }, 1, () => 0)).toBe(2000);
  });
  it('rejects nonsense policies when they are built', () => {
    expect(() => new RetryPolicy({ maxRetries: -1 })).toThrow(/non-negative integer/);
    expect(() => new RetryPolicy({ delay: -2 })).toThrow(/>= 0/);
  });
});

describe('job-level op defaults', () => {
  const a = op({ name: 'defaults_a' }, async () => 1);
  const b = op(
    { name: 'defaults_b', timeouts: { heartbeat: '5s' }, retryPolicy: new RetryPolicy({ maxRetries: 7 }) },
    async (_ctx, x: number) => x,
  );
  const withDefaults = job(
    {
      name: 'with_defaults',
      opRetryPolicy: new RetryPolicy({ maxRetries: 2, delay: 1 }),
      opTimeouts: { heartbeat: '2s', startToClose: '10m' },
    },
    () => {
      b(a());
    },
  );
  it('apply to ops without their own setting; op settings win', () => {
    const [nodeA, nodeB] = withDefaults.plan.nodes;
    expect(nodeA?.retryPolicy).toEqual({ maxRetries: 2, delay: 1 });
    expect(nodeA?.timeouts).toEqual({ heartbeatMs: 2000, startToCloseMs: 600_000 });
    expect(nodeB?.retryPolicy).toEqual({ maxRetries: 7, delay: 0 });
    expect(nodeB?.timeouts).toEqual({ heartbeatMs: 5000, startToCloseMs: 600_000 });
  });
  it('without defaults: no retry (as Dagster), 30 s heartbeat, 1 day per attempt', () => {
    const plain = job({ name: 'plain_defaults' }, () => {
      a();
    });
    expect(plain.plan.nodes[0]?.retryPolicy).toBeNull();
    expect(plain.plan.nodes[0]?.timeouts).toEqual({ heartbeatMs: 30_000, startToCloseMs: 86_400_000 });
  });
});
