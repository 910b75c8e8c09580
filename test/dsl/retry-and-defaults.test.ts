import { describe, expect, it } from 'vitest';
import { job, op, RetryPolicy } from '../../src/index.ts';
import { retryDelayMs } from '../../src/engine/retry.ts';

/** mulberry32, the seeded PRNG the fake engine uses too. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('RetryPolicy delays (Dagster calculate_delay)', () => {
  const half = () => 0.5;
  it('plain delay, linear and exponential backoff', () => {
    expect(retryDelayMs({ maxRetries: 3, delay: 2 }, 3, half)).toBe(2000);
    expect(retryDelayMs({ maxRetries: 3, delay: 2, backoff: 'linear' }, 3, half)).toBe(6000);
    expect(retryDelayMs({ maxRetries: 3, delay: 2, backoff: 'exponential' }, 3, half)).toBe(14_000);
  });
  it('full jitter is random · backoff_delay', () => {
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'full' }, 1, half)).toBe(2000);
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'full' }, 1, () => 0)).toBe(0);
    expect(retryDelayMs({ maxRetries: 3, delay: 2, backoff: 'exponential', jitter: 'full' }, 2, () => 0.25)).toBe(1500);
  });
  it('plus-minus jitter is backoff_delay + (2 · random · delay − delay), delay being the base delay (Dagster policy.py)', () => {
    // No backoff: 4 + (2·r·4 − 4), so [0, 8] s.
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'plus_minus' }, 1, () => 0)).toBe(0);
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'plus_minus' }, 1, () => 0.25)).toBe(2000);
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'plus_minus' }, 1, half)).toBe(4000);
    expect(retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'plus_minus' }, 1, () => 1)).toBe(8000);
    // Exponential, third retry: 14 ± 2 (the base delay), not ± half of 14.
    const exp3 = { maxRetries: 3, delay: 2, backoff: 'exponential', jitter: 'plus_minus' } as const;
    expect(retryDelayMs(exp3, 3, () => 0)).toBe(12_000);
    expect(retryDelayMs(exp3, 3, () => 0.25)).toBe(13_000);
    expect(retryDelayMs(exp3, 3, () => 0.9)).toBe(15_600);
    expect(retryDelayMs(exp3, 3, () => 1)).toBe(16_000);
  });
  it('seeded randoms give exact delays; histories without the jitter marker keep the old ±50 % formula', () => {
    const exp = { maxRetries: 3, delay: 2, backoff: 'exponential', jitter: 'plus_minus' } as const;
    const flat = { maxRetries: 3, delay: 2, jitter: 'plus_minus' } as const;
    const delays = (policy: typeof exp | typeof flat, dagster: boolean) => {
      const random = mulberry32(7); // 0.0117…, 0.0619…, 0.9769…
      return [1, 2, 3].map((attempt) => retryDelayMs(policy, attempt, random, () => dagster));
    };
    expect(delays(exp, true)).toEqual([47, 4248, 15_908]);
    expect(delays(flat, true)).toEqual([47, 248, 3908]);
    expect(delays(exp, false)).toEqual([1023, 3372, 20_677]);
    expect(delays(flat, false)).toEqual([1023, 1124, 2954]);
    const full = mulberry32(7);
    expect([1, 2, 3].map((a) => retryDelayMs({ ...exp, jitter: 'full' }, a, full, () => false))).toEqual([23, 372, 13_677]);
  });
  it('asks the jitter gate only for plus-minus jitter', () => {
    const asked: string[] = [];
    const gate = () => (asked.push('asked'), true);
    retryDelayMs({ maxRetries: 1, delay: 4 }, 1, half, gate);
    retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'full' }, 1, half, gate);
    expect(asked).toEqual([]);
    retryDelayMs({ maxRetries: 1, delay: 4, jitter: 'plus_minus' }, 1, half, gate);
    expect(asked).toEqual(['asked']);
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
