/**
 * The workflow budget's admission through the interpreter (DESIGN §4 Limits): every map and step
 * of one workflow shares its pending-activity and pending-child limits. Ops wait on promises the
 * test releases one at a time, so what is pending at once can be observed.
 */
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/dsl/index.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import { WORKFLOW_BUDGET_PATCH } from '../../src/engine/sharding.ts';
import { drive, FakeEngine, type FakeOp, items, keyed, value } from './fakeEngine.ts';

const keys = op({ name: 'keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(0, '0');
});
const slow = op({ name: 'slow' }, async (_ctx, x: number) => x);
const total = op({ name: 'total' }, async (_ctx, xs: number[]) => xs.length);

/** `maps` independent maps of `perMap` keys each, in `mode`; the first map optionally with its own window. */
function parallelMaps(name: string, maps: number, mode: FanOutMode, firstWindow?: number) {
  return job({ name }, () => {
    for (let m = 0; m < maps; m++) {
      const options = m === 0 && firstWindow ? { mode, maxConcurrency: firstWindow } : { mode };
      total.alias(`total_${m}`)(
        keys
          .alias(`keys_${m}`)()
          .map(slow.alias(`slow_${m}`), options)
          .collect(),
      );
    }
  });
}

const heldSlow: FakeOp = async (task, engine) => {
  await engine.hold(task.stepKey);
  return value(task.inputs.x);
};

function engineFor(perMap: number, options: ConstructorParameters<typeof FakeEngine>[0] = {}): FakeEngine {
  return new FakeEngine({
    ...options,
    ops: { keys: () => items(keyed(perMap)), slow: heldSlow, total: (t) => value(t.inputs.xs) },
  });
}

function successes(steps: Record<string, { status: string }>, prefix: string): number {
  return Object.entries(steps).filter(([k, r]) => k.startsWith(prefix) && r.status === 'SUCCESS').length;
}

describe('pending activities', () => {
  it('several concurrent activity-mode maps never have more than the limit pending, reach it, and all keys finish', async () => {
    const fake = engineFor(6, { limits: { pendingActivities: 5 } });
    const seen: number[] = [];
    const result = await drive(fake, fake.run(parallelMaps('admit_activities', 3, 'activity').plan), () =>
      seen.push(fake.world.pending.attempts),
    );
    expect(Math.max(...seen)).toBe(5);
    expect(fake.world.peak.attempts).toBe(5);
    expect(fake.budget.peak.activity).toBe(5);
    for (let m = 0; m < 3; m++) {
      expect(successes(result.steps, `slow_${m}[`)).toBe(6);
      expect(result.steps[`total_${m}`]?.outputs).toEqual(value([0, 1, 2, 3, 4, 5]));
    }
    // The budget held commands back, so the gate was asked — once.
    expect(fake.world.patchedAsked.filter((id) => id === WORKFLOW_BUDGET_PATCH)).toHaveLength(1);
  });

  it('admits in FIFO order: commands held back start in the order they were requested', async () => {
    const fake = engineFor(4, { limits: { pendingActivities: 2 } });
    await drive(fake, fake.run(parallelMaps('admit_fifo', 3, 'activity').plan));
    const admitted = fake.budget.admitted.activity;
    expect(admitted.length).toBe(3 + 12 + 3);
    expect(admitted).toEqual([...admitted].sort((a, b) => a - b));
    expect(fake.world.peak.attempts).toBe(2);
  });

  it('with the gate answering false (a history recorded before the budget), the limit is not enforced', async () => {
    const fake = engineFor(6, { limits: { pendingActivities: 5 }, patched: { [WORKFLOW_BUDGET_PATCH]: false } });
    const result = await drive(fake, fake.run(parallelMaps('admit_legacy', 3, 'activity').plan));
    expect(fake.world.peak.attempts).toBe(18);
    expect(fake.budget.peak.activity).toBe(18);
    for (let m = 0; m < 3; m++) expect(successes(result.steps, `slow_${m}[`)).toBe(6);
  });

  it('under the limit the gate is never asked', async () => {
    const fake = engineFor(3, { limits: { pendingActivities: 100 } });
    await drive(fake, fake.run(parallelMaps('admit_free', 2, 'activity').plan));
    expect(fake.world.peak.attempts).toBe(6);
    expect(fake.world.patchedAsked).not.toContain(WORKFLOW_BUDGET_PATCH);
  });

  it("a map's maxConcurrency is its own window within the shared budget", async () => {
    const fake = engineFor(6, { limits: { pendingActivities: 10 } });
    let peakOfFirst = 0;
    await drive(fake, fake.run(parallelMaps('admit_window', 2, 'activity', 2).plan), () => {
      const first = fake.world.waiters.filter((w) => w.label.startsWith('slow_0[')).length;
      peakOfFirst = Math.max(peakOfFirst, first);
    });
    expect(peakOfFirst).toBe(2);
    expect(fake.world.peak.attempts).toBe(8);
  });
});

describe('pending children', () => {
  it('several child-mode maps never have more children pending than the limit, reach it, and all keys finish', async () => {
    const fake = engineFor(4, { limits: { pendingChildren: 3 } });
    const seen: number[] = [];
    const result = await drive(fake, fake.run(parallelMaps('admit_children', 3, 'child').plan), () =>
      seen.push(fake.world.pending.children),
    );
    expect(Math.max(...seen)).toBe(3);
    expect(fake.world.peak.children).toBe(3);
    expect(fake.budget.peak.child).toBe(3);
    expect(fake.world.children).toHaveLength(12);
    for (let m = 0; m < 3; m++) expect(successes(result.steps, `slow_${m}[`)).toBe(4);
  });

  it('with the gate answering false, every child starts at once', async () => {
    const fake = engineFor(4, { limits: { pendingChildren: 3 }, patched: { [WORKFLOW_BUDGET_PATCH]: false } });
    const result = await drive(fake, fake.run(parallelMaps('admit_children_legacy', 3, 'child').plan));
    expect(fake.world.peak.children).toBe(12);
    for (let m = 0; m < 3; m++) expect(successes(result.steps, `slow_${m}[`)).toBe(4);
  });
});
