/** src/engine/budget.ts: admission of pending activities and children, FIFO, the gate, projected history events. */
import { describe, expect, it, vi } from 'vitest';
import { BUDGET } from '../../src/dsl/limits.ts';
import { DEFAULT_LIMITS, WorkflowBudget } from '../../src/engine/budget.ts';
import { settle } from './fakeEngine.ts';

interface Deferred {
  promise: Promise<string>;
  resolve: (v: string) => void;
  reject: (e: Error) => void;
}

function deferred(): Deferred {
  let resolve!: (v: string) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const limits = (pendingActivities: number, pendingChildren = 10, historyEvents = 100) => ({
  pendingActivities,
  pendingChildren,
  historyEvents,
});

describe('run: admission', () => {
  it('defaults to the BUDGET limits', () => {
    expect(new WorkflowBudget().limits).toEqual(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS).toMatchObject({
      pendingActivities: BUDGET.pendingActivities,
      pendingChildren: BUDGET.pendingChildren,
      historyEvents: BUDGET.historyEvents,
    });
  });

  it('calls fn at once with a free slot and returns its very promise', () => {
    const budget = new WorkflowBudget(limits(2));
    const d = deferred();
    const fn = vi.fn(() => d.promise);
    const returned = budget.run('activity', fn);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(returned).toBe(d.promise);
  });

  it('holds back calls beyond the limit and admits them as slots free up; peak records the most at once', async () => {
    const budget = new WorkflowBudget(limits(2));
    const calls = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    const results = calls.map((d, i) =>
      budget.run('activity', () => {
        started.push(i);
        return d.promise;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    calls[1]?.resolve('one');
    await settle();
    expect(started).toEqual([0, 1, 2]);
    calls[0]?.resolve('zero');
    calls[2]?.resolve('two');
    await settle();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    calls[3]?.resolve('three');
    calls[4]?.resolve('four');
    expect(await Promise.all(results)).toEqual(['zero', 'one', 'two', 'three', 'four']);
    expect(budget.peak).toMatchObject({ activity: 2, child: 0 });
  });

  it('admits held-back calls first come, first served (FIFO)', async () => {
    const budget = new WorkflowBudget(limits(1));
    const first = deferred();
    const order: string[] = [];
    void budget.run('activity', () => first.promise);
    const rest = ['a', 'b', 'c', 'd'].map((name) =>
      budget.run('activity', async () => {
        order.push(name);
        return name;
      }),
    );
    first.resolve('first');
    await Promise.all(rest);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps activities and children apart', async () => {
    const budget = new WorkflowBudget(limits(1, 1));
    const a = deferred();
    const started: string[] = [];
    void budget.run('activity', () => a.promise);
    void budget.run('child', async () => {
      started.push('child');
      return '';
    });
    void budget.run('activity', async () => {
      started.push('activity');
      return '';
    });
    await settle();
    expect(started).toEqual(['child']);
    a.resolve('');
    await settle();
    expect(started).toEqual(['child', 'activity']);
    expect(budget.peak).toMatchObject({ activity: 1, child: 1 });
  });

  it('frees the slot when fn rejects or throws synchronously', async () => {
    const budget = new WorkflowBudget(limits(1));
    await expect(budget.run('activity', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(() =>
      budget.run('activity', () => {
        throw new Error('sync');
      }),
    ).toThrow('sync');
    const fn = vi.fn(async () => 'ok');
    await expect(budget.run('activity', fn)).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(budget.peak.activity).toBe(1);
  });

  it('a held-back call whose fn throws synchronously rejects and passes its slot on', async () => {
    const budget = new WorkflowBudget(limits(1));
    const first = deferred();
    void budget.run('activity', () => first.promise);
    const broken = budget.run('activity', () => {
      throw new Error('sync later');
    });
    const after = budget.run('activity', async () => 'after');
    first.resolve('');
    await expect(broken).rejects.toThrow('sync later');
    await expect(after).resolves.toBe('after');
  });
});

describe('run: input bytes of pending commands', () => {
  const bytesLimits = { pendingActivities: 10, pendingChildren: 10, historyEvents: 100, pendingInputBytes: 100 };

  it('holds back a command whose input would take the pending bytes over the limit', async () => {
    const budget = new WorkflowBudget(bytesLimits);
    const first = deferred();
    const started: string[] = [];
    const run = (kind: 'activity' | 'child', name: string, bytes: number, promise?: Promise<string>) =>
      budget.run(
        kind,
        () => {
          started.push(name);
          return promise ?? Promise.resolve(name);
        },
        bytes,
      );
    void run('activity', 'a', 60, first.promise);
    const b = run('activity', 'b', 60);
    // Another kind is not queued behind b: it goes if its bytes fit.
    const c = run('child', 'c', 30);
    await settle();
    expect(started).toEqual(['a', 'c']);
    first.resolve('a');
    await Promise.all([b, c]);
    expect(started).toEqual(['a', 'c', 'b']);
    expect(budget.peak).toMatchObject({ activity: 1, child: 1, bytes: 90 });
  });

  it('a later command of the same kind does not pass one held back, even if its own bytes would fit (FIFO)', async () => {
    const budget = new WorkflowBudget(bytesLimits);
    const first = deferred();
    const started: string[] = [];
    const run = (name: string, bytes: number, promise?: Promise<string>) =>
      budget.run(
        'activity',
        () => {
          started.push(name);
          return promise ?? Promise.resolve(name);
        },
        bytes,
      );
    void run('a', 60, first.promise);
    const b = run('b', 60);
    const c = run('c', 10);
    await settle();
    expect(started).toEqual(['a']);
    first.resolve('a');
    await Promise.all([b, c]);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('one command alone always goes, however large its input', async () => {
    const budget = new WorkflowBudget(bytesLimits);
    await expect(budget.run('activity', async () => 'big', 10_000)).resolves.toBe('big');
  });
});

describe('the gate', () => {
  it('is asked once, lazily, only when a call would be held back', async () => {
    const gate = vi.fn(() => true);
    const budget = new WorkflowBudget(limits(1), gate);
    const first = deferred();
    void budget.run('activity', () => first.promise);
    expect(gate).not.toHaveBeenCalled();
    const second = budget.run('activity', async () => 'second');
    const third = budget.run('activity', async () => 'third');
    expect(gate).toHaveBeenCalledTimes(1);
    first.resolve('');
    await Promise.all([second, third]);
    expect(budget.enforced()).toBe(true);
    expect(gate).toHaveBeenCalledTimes(1);
  });

  it('answering false admits everything at once', async () => {
    const gate = vi.fn(() => false);
    const budget = new WorkflowBudget(limits(2), gate);
    const calls = Array.from({ length: 6 }, deferred);
    let started = 0;
    const results = calls.map((d) =>
      budget.run('activity', () => {
        started++;
        return d.promise;
      }),
    );
    expect(started).toBe(6);
    expect(budget.peak.activity).toBe(6);
    expect(gate).toHaveBeenCalledTimes(1);
    expect(budget.enforced()).toBe(false);
    calls.forEach((d, i) => d.resolve(String(i)));
    expect(await Promise.all(results)).toEqual(['0', '1', '2', '3', '4', '5']);
  });
});

describe('projected history events', () => {
  it('tryReserveEvents reserves only what fits; reserveEvents always reserves', () => {
    const budget = new WorkflowBudget(limits(1, 1, 100));
    expect(budget.projectedEvents).toBe(0);
    expect(budget.freeEvents).toBe(100);
    expect(budget.tryReserveEvents(60)).toBe(true);
    expect(budget.tryReserveEvents(41)).toBe(false);
    expect(budget.projectedEvents).toBe(60);
    expect(budget.tryReserveEvents(40)).toBe(true);
    expect(budget.freeEvents).toBe(0);
    expect(budget.tryReserveEvents(1)).toBe(false);
    expect(budget.tryReserveEvents(0)).toBe(true);
    budget.reserveEvents(30);
    expect(budget.projectedEvents).toBe(130);
    // Never negative.
    expect(budget.freeEvents).toBe(0);
  });

  it('does not depend on the gate', () => {
    const gate = vi.fn(() => false);
    const budget = new WorkflowBudget(limits(1, 1, 10), gate);
    expect(budget.tryReserveEvents(11)).toBe(false);
    expect(budget.tryReserveEvents(10)).toBe(true);
    expect(gate).not.toHaveBeenCalled();
  });
});
