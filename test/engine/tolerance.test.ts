/**
 * Tolerated failures per map (`.map(fn, { toleratedFailures })`) in the interpreter, through the
 * fake engine: which keys count as failed, what the collects get, what the workflow would fail for
 * (untoleratedFailures), in every mode, with stages, nested maps and shards.
 */
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/dsl/index.ts';
import type { DimensionOptions, FanOutMode } from '../../src/dsl/plan.ts';
import type { ScopeResult, StepRecord } from '../../src/dsl/protocol.ts';
import { untoleratedFailures } from '../../src/engine/tolerance.ts';
import { FakeEngine, items, keyed, value } from './fakeEngine.ts';

const keys = op({ name: 'keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(0, '0');
});
const inner = op({ name: 'inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  yield new DynamicOutput(x, '0');
});
const work = op({ name: 'work' }, async (_ctx, x: number) => x);
const after = op({ name: 'after' }, async (_ctx, x: number) => x);
const audit = op({ name: 'audit' }, async (_ctx, x: number) => x);
const total = op({ name: 'total' }, async (_ctx, xs: number[]) => xs);
const gatherLists = op({ name: 'lists' }, async (_ctx, xs: number[][]) => xs);
const plus = op({ name: 'plus' }, async (_ctx, x: number, y: number[]) => x + y.length);

const num = (x: unknown) => x as number;
const KEYS = 40;
/** Keys k3, k13, k23, k33 fail: 4 of 40. */
const failing = (i: number) => i % 10 === 3;
const modeOptions = (mode: FanOutMode): DimensionOptions => (mode === 'batch' ? { mode, batchSize: 7 } : { mode });

function record(steps: Record<string, StepRecord>, key: string): StepRecord {
  const found = steps[key];
  if (!found) throw new Error(`no step ${key} among ${Object.keys(steps).slice(0, 20).join(', ')}…`);
  return found;
}

function outputOf(steps: Record<string, StepRecord>, key: string): unknown {
  const output = record(steps, key).outputs?.find((o) => o.name === 'result');
  if (!output || !('value' in output)) throw new Error(`${key} has no value output`);
  return output.value;
}

const successes = Array.from({ length: KEYS }, (_, i) => i).filter((i) => !failing(i));

async function run(plan: ReturnType<typeof job>['plan'], fails: (task: { stepKey: string; inputs: Record<string, unknown> }) => boolean) {
  const fake = new FakeEngine({
    ops: {
      keys: () => items(keyed(KEYS)),
      inner: (t) => items(keyed(5, (i) => num(t.inputs.x) * 100 + i, 'j')),
      work: (t) => {
        if (fails(t)) throw new Error(`${t.stepKey} is broken`);
        return value(num(t.inputs.x));
      },
      after: (t) => value(num(t.inputs.x) + 1000),
      audit: (t) => {
        if (fails(t)) throw new Error(`${t.stepKey} audit failed`);
        return value(num(t.inputs.x));
      },
      total: (t) => value(t.inputs.xs),
      plus: (t) => value(num(t.inputs.x) + (t.inputs.y as unknown[]).length),
    },
  });
  const result: ScopeResult = await fake.run(plan);
  return { fake, result, steps: fake.allSteps(result), failed: untoleratedFailures(result).map((f) => f.stepKey) };
}

const byValue = (t: { inputs: Record<string, unknown> }) => failing(num(t.inputs.x));

describe('toleratedFailures: 4 of 40 keys fail', () => {
  const simple = (mode: FanOutMode, toleratedFailures: DimensionOptions['toleratedFailures'], shardSize?: number) =>
    job({ name: `tolerate_${mode}` }, () => {
      total(
        keys()
          .map(work, { ...modeOptions(mode), ...(toleratedFailures ? { toleratedFailures } : {}), ...(shardSize ? { shardSize } : {}) })
          .collect(),
      );
    });

  const cases = [
    ['child', undefined],
    ['activity', undefined],
    ['batch', undefined],
    ['child', 6],
    ['activity', 6],
    ['batch', 6],
  ] as const;

  it.each(cases)(
    'mode %s (shardSize %s), { count: 4 }: the collect gets the 36 others in yield order, nothing fails the run',
    async (mode, shardSize) => {
      const { steps, failed } = await run(simple(mode, { count: 4 }, shardSize).plan, byValue);
      expect(failed).toEqual([]);
      expect(outputOf(steps, 'total')).toEqual(successes);
      expect(record(steps, 'work[k3]')).toMatchObject({ status: 'FAILURE', error: { message: 'work[k3] is broken' } });
      expect(Object.values(steps).filter((r) => r.status === 'FAILURE')).toHaveLength(4);
    },
  );

  it.each(cases)(
    'mode %s (shardSize %s), { count: 3 }: over the tolerance the collect consumer is abandoned, naming the map',
    async (mode, shardSize) => {
      const { steps, failed } = await run(simple(mode, { count: 3 }, shardSize).plan, byValue);
      expect(failed.sort()).toEqual(['work[k13]', 'work[k23]', 'work[k33]', 'work[k3]']);
      expect(record(steps, 'total').status).toBe('ABANDONED');
      expect(record(steps, 'total').error?.message).toContain(
        'map over "keys": 4 of 40 keys failed, more than its toleratedFailures { count: 3 } allows (at most 3)',
      );
    },
  );

  it.each(cases)('mode %s (shardSize %s), ratio 0.1 tolerates 4 of 40, ratio 0.075 does not', async (mode, shardSize) => {
    const within = await run(simple(mode, { ratio: 0.1 }, shardSize).plan, byValue);
    expect(within.failed).toEqual([]);
    expect(outputOf(within.steps, 'total')).toEqual(successes);
    const over = await run(simple(mode, { ratio: 0.075 }, shardSize).plan, byValue);
    expect(over.failed).toHaveLength(4);
    expect(record(over.steps, 'total').error?.message).toContain('4 of 40 keys failed, more than its toleratedFailures { ratio: 0.075 }');
  });

  it('{ count: 0 } behaves as no option: same records, same attempts', async () => {
    const plain = await run(simple('child', undefined).plan, byValue);
    const zero = await run(simple('child', { count: 0 }).plan, byValue);
    expect(zero.failed).toEqual(plain.failed);
    expect(zero.fake.world.attempts.map((a) => a.stepKey)).toEqual(plain.fake.world.attempts.map((a) => a.stepKey));
    const { total: zeroTotal, ...zeroRest } = zero.steps;
    const { total: plainTotal, ...plainRest } = plain.steps;
    expect(zeroRest).toEqual(plainRest);
    expect(zeroTotal?.status).toBe(plainTotal?.status);
  });

  it('{ ratio: 1 }: every key failing is tolerated and the collect gets []', async () => {
    const { steps, failed } = await run(simple('activity', { ratio: 1 }).plan, () => true);
    expect(failed).toEqual([]);
    expect(outputOf(steps, 'total')).toEqual([]);
  });

  it('{ ratio: 1 } sharded: every key failing is tolerated and the lazy collect gives []', async () => {
    const { steps, failed } = await run(simple('child', { ratio: 1 }, 6).plan, () => true);
    expect(failed).toEqual([]);
    expect(outputOf(steps, 'total')).toEqual([]);
  });
});

describe('what counts as a failed key', () => {
  it('a key any of whose steps failed: its other steps’ values are left out of the collects too', async () => {
    const plan = job({ name: 'tolerate_audit' }, () => {
      const worked = keys().map(
        (x) => {
          audit(x);
          return work(x);
        },
        { toleratedFailures: { count: 4 } },
      );
      total(worked.collect());
    }).plan;
    const { steps, failed } = await run(plan, (t) => t.stepKey.startsWith('audit[') && failing(num(t.inputs.x)));
    expect(failed).toEqual([]);
    expect(record(steps, 'work[k3]').status).toBe('SUCCESS');
    expect(outputOf(steps, 'total')).toEqual(successes);
  });

  it('a chained map over the same keys: abandoned for the failed keys, the run does not fail', async () => {
    const plan = job({ name: 'tolerate_chained' }, () => {
      total(
        keys()
          .map(work, { mode: 'activity', toleratedFailures: { count: 4 } })
          .map(after)
          .collect(),
      );
    }).plan;
    const { steps, failed } = await run(plan, byValue);
    expect(failed).toEqual([]);
    expect(record(steps, 'after[k3]').status).toBe('ABANDONED');
    expect(outputOf(steps, 'total')).toEqual(successes.map((i) => i + 1000));
  });

  it('counted over all stages of the map: a barrier splits it, failures of both stages add up', async () => {
    const staged = (count: number, shardSize?: number) =>
      job({ name: 'tolerate_staged' }, () => {
        const all = keys();
        const worked = all.map(work, { toleratedFailures: { count }, ...(shardSize ? { shardSize } : {}) });
        const firstTotal = total(worked.collect());
        total.alias('second')(all.map((x) => audit(plus(x, firstTotal))).collect());
      }).plan;
    // Stage 0: work fails for k3, k13 (values 3, 13); stage 1: audit fails for k23 and k33.
    const fails = (t: { stepKey: string; inputs: Record<string, unknown> }) =>
      (t.stepKey.startsWith('work[') && [3, 13].includes(num(t.inputs.x))) ||
      (t.stepKey.startsWith('audit[') && [23 + 38, 33 + 38].includes(num(t.inputs.x)));
    for (const shardSize of [undefined, 6]) {
      const within = await run(staged(4, shardSize), fails);
      expect(within.failed).toEqual([]);
      expect(outputOf(within.steps, 'total')).toHaveLength(38);
      // The second collect leaves out every key failed so far: k3 and k13 of stage 0 as well.
      expect(outputOf(within.steps, 'second')).toHaveLength(36);
      const over = await run(staged(3, shardSize), fails);
      expect(over.failed).toHaveLength(4);
      expect(outputOf(over.steps, 'total')).toHaveLength(38);
      expect(record(over.steps, 'second').error?.message).toContain('4 of 40 keys failed');
    }
  });

  it('a map with no keys: nothing fails, the collect gets []', async () => {
    const plan = job({ name: 'tolerate_empty' }, () => {
      total(
        keys()
          .map(work, { toleratedFailures: { ratio: 0 } })
          .collect(),
      );
    }).plan;
    const fake = new FakeEngine({ ops: { keys: () => items([]), work: () => value(0), total: (t) => value(t.inputs.xs) } });
    const result = await fake.run(plan);
    expect(untoleratedFailures(result)).toEqual([]);
    expect(outputOf(result.steps, 'total')).toEqual([]);
  });
});

describe('nested maps: an inner tolerance applies per outer key', () => {
  const modes = ['child', 'activity', 'batch'] as const;
  const nested = (outer: FanOutMode, innerMode: FanOutMode, innerCount: number, outerTolerance?: number, shardSize?: number) =>
    job({ name: `tolerate_nested_${outer}_${innerMode}` }, () => {
      const perKey = keys().map(
        (k) =>
          total.alias('per_key')(
            inner(k)
              .map(work, { ...modeOptions(innerMode), toleratedFailures: { count: innerCount }, ...(shardSize ? { shardSize } : {}) })
              .collect(),
          ),
        { ...modeOptions(outer), ...(outerTolerance !== undefined ? { toleratedFailures: { count: outerTolerance } } : {}) },
      );
      gatherLists.alias('all')(perKey.collect());
    }).plan;
  // Outer key k1 has 1 failing inner key, k2 has 2: inner values 100..104 and 200..204.
  const fails = (t: { stepKey: string; inputs: Record<string, unknown> }) => [101, 201, 203].includes(num(t.inputs.x));

  it.each(modes.flatMap((o) => modes.map((i) => [o, i] as const)))('outer %s, inner %s', async (outer, innerMode) => {
    const smallRun = async (innerCount: number, outerTolerance?: number) => {
      const fake = new FakeEngine({
        ops: {
          keys: () => items(keyed(3)),
          inner: (t) => items(keyed(5, (i) => num(t.inputs.x) * 100 + i, 'j')),
          work: (t) => {
            if (fails(t)) throw new Error(`${t.stepKey} is broken`);
            return value(num(t.inputs.x));
          },
          total: (t) => value(t.inputs.xs),
          lists: (t) => value(t.inputs.xs),
        },
      });
      const result = await fake.run(nested(outer, innerMode, innerCount, outerTolerance));
      return { steps: fake.allSteps(result), failed: untoleratedFailures(result).map((f) => f.stepKey) };
    };
    // Inner count 2: both outer keys stay within it.
    const within = await smallRun(2);
    expect(within.failed).toEqual([]);
    expect(outputOf(within.steps, 'per_key[k1]')).toEqual([100, 102, 103, 104]);
    expect(outputOf(within.steps, 'per_key[k2]')).toEqual([200, 202, 204]);
    expect(outputOf(within.steps, 'all')).toHaveLength(3);
    // Inner count 1: k2's inner map is over it; k1's is not. Without an outer tolerance the run fails.
    const over = await smallRun(1);
    expect(over.failed.sort()).toEqual(['work[k2,j1]', 'work[k2,j3]']);
    expect(record(over.steps, 'per_key[k2]').error?.message).toContain('map over "inner[k2]": 2 of 5 keys failed');
    expect(record(over.steps, 'all').status).toBe('ABANDONED');
    // With the outer map tolerating one failed key, k2 is that key: the run does not fail.
    const outer1 = await smallRun(1, 1);
    expect(outer1.failed).toEqual([]);
    expect(outputOf(outer1.steps, 'all')).toEqual([
      [0, 1, 2, 3, 4],
      [100, 102, 103, 104],
    ]);
  });

  it('inner map sharded inside each outer key', async () => {
    const fake = new FakeEngine({
      ops: {
        keys: () => items(keyed(3)),
        inner: (t) => items(keyed(5, (i) => num(t.inputs.x) * 100 + i, 'j')),
        work: (t) => {
          if (fails(t)) throw new Error(`${t.stepKey} is broken`);
          return value(num(t.inputs.x));
        },
        total: (t) => value(t.inputs.xs),
        lists: (t) => value(t.inputs.xs),
      },
    });
    const result = await fake.run(nested('child', 'child', 2, undefined, 2));
    expect(fake.world.shards.length).toBeGreaterThan(0);
    expect(untoleratedFailures(result)).toEqual([]);
    const steps = fake.allSteps(result);
    expect(outputOf(steps, 'per_key[k2]')).toEqual([200, 202, 204]);
  });
});
