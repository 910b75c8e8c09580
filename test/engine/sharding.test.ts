/**
 * When a dimension's keys run here and when in shard workflows (src/engine/sharding.ts, the
 * interpreter's shardDecision, src/engine/shardScope.ts): decided from the workflow's projected
 * history across all its maps, or by the old per-dimension rule for histories recorded before the
 * budget; collects over shards give the same values, in yield order, as unsharded runs.
 */
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op, Out } from '../../src/dsl/index.ts';
import type { DimensionOptions } from '../../src/dsl/plan.ts';
import type { ScopeResult, StepRecord } from '../../src/dsl/protocol.ts';
import { EVENTS } from '../../src/dsl/limits.ts';
import { WORKFLOW_BUDGET_PATCH } from '../../src/engine/sharding.ts';
import { FakeEngine, type FakeOptions, isRef, items, storedItems, value } from './fakeEngine.ts';

const keys = op({ name: 'keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(0, '0');
});
const work = op({ name: 'work' }, async (_ctx, x: number) => x);
const maybe = op({ name: 'maybe', out: new Out<number>({ isRequired: false }) }, async (_ctx, x: number) => x);
const total = op({ name: 'total' }, async (_ctx, xs: number[]) => xs.length);

/** 20 keys in a shuffled yield order (so yield order and key order differ): `k7, k14, k1, …`. */
const ORDER = Array.from({ length: 20 }, (_, i) => (i * 7) % 20);
const shuffled = (count = 20) => ORDER.slice(0, count).map((i) => [`k${i}`, i] as [string, unknown]);

const ops: FakeOptions['ops'] = {
  keys: () => items(shuffled()),
  work: (t) => value((t.inputs.x as number) * 10),
  total: (t) => value(t.inputs.xs),
};

/** `n` independent maps over their own fan-outs, each collected. */
function maps(name: string, n: number, options: DimensionOptions = {}) {
  return job({ name }, () => {
    for (let m = 0; m < n; m++)
      total.alias(`total_${m}`)(
        keys
          .alias(`keys_${m}`)()
          .map(work.alias(`work_${m}`), options)
          .collect(),
      );
  });
}

function outputOf(steps: Record<string, StepRecord>, key: string): unknown {
  const output = steps[key]?.outputs?.find((o) => o.name === 'result');
  if (!output || !('value' in output)) throw new Error(`${key} has no value: ${JSON.stringify(steps[key])}`);
  return output.value;
}

const expectedCollect = ORDER.map((i) => i * 10);
/** What the job workflow's history really gets from its own steps, children and shards (retries aside). */
function jobEvents(fake: FakeEngine): number {
  const own = new Set(fake.world.attempts.filter((a) => a.workflow === 'job').map((a) => a.stepKey)).size;
  const children = fake.world.children.filter((c) => c.workflow === 'job').length;
  const shards = fake.world.shards.filter((s) => s.workflow === 'job').length;
  return own * EVENTS.activity + children * EVENTS.child + shards * EVENTS.shard;
}

const shardedSources = (fake: FakeEngine) => [...new Set(fake.world.shards.filter((s) => s.workflow === 'job').map((s) => s.source))];

describe('sharding decisions', () => {
  it('one map that fits the history budget runs unsharded', async () => {
    const fake = new FakeEngine({ ops, limits: { historyEvents: 200 } });
    const result = await fake.run(maps('fits', 1).plan);
    expect(fake.world.shards).toEqual([]);
    expect(fake.world.children).toHaveLength(20);
    expect(fake.world.children.every((c) => c.workflow === 'job')).toBe(true);
    // Its own two steps and 20 children of 9 events each.
    expect(fake.budget.projectedEvents).toBe(2 * EVENTS.activity + 20 * EVENTS.child);
    expect(outputOf(result.steps, 'total_0')).toEqual(expectedCollect);
  });

  it('several maps that each fit alone but not together: the first runs here, later ones in shards', async () => {
    const fake = new FakeEngine({ ops, limits: { historyEvents: 250 } });
    const result = await fake.run(maps('fit_together', 3).plan);
    // 6 own steps (36 events) + 180 for the first map = 216; a second map's 180 would not fit.
    expect(shardedSources(fake)).toEqual(['keys_1', 'keys_2']);
    expect(fake.world.shards.map((s) => [s.source, s.start, s.end, s.id])).toEqual([
      ['keys_1', 0, 20, 'job/keys_1[shard_0]'],
      ['keys_2', 0, 20, 'job/keys_2[shard_0]'],
    ]);
    expect(fake.world.children.filter((c) => c.workflow === 'job').map((c) => c.source)).toEqual(Array(20).fill('keys_0'));
    expect(fake.world.children.filter((c) => c.workflow === 'job/keys_1[shard_0]')).toHaveLength(20);
    expect(fake.budget.projectedEvents).toBe(36 + 180 + 2 * EVENTS.shard);
    expect(fake.budget.projectedEvents).toBeGreaterThanOrEqual(jobEvents(fake));
    expect(jobEvents(fake)).toBeLessThanOrEqual(250);
    // Collects give the same values in yield order, sharded or not.
    for (let m = 0; m < 3; m++) expect(outputOf(result.steps, `total_${m}`)).toEqual(expectedCollect);
    const rawOf = (node: string) => fake.world.attempts.find((a) => a.node === node)?.rawInputs.xs;
    expect(Array.isArray(rawOf('total_0'))).toBe(true);
    expect(rawOf('total_1')).toMatchObject({ $opgraphCollect: { node: 'work_1', output: 'result', depth: 1 } });
    // Every key's records, from the stored parts, are those of an unsharded run.
    const steps = fake.allSteps(result);
    for (const [k, i] of shuffled()) {
      for (let m = 0; m < 3; m++)
        expect(steps[`work_${m}[${k}]`]).toEqual({
          node: `work_${m}`,
          mappingKeys: [k],
          status: 'SUCCESS',
          outputs: value((i as number) * 10),
          attempts: 1,
        });
    }
  });

  it('with the gate false (legacy history), the old per-dimension rule decides: nothing shards below 500 children', async () => {
    const fake = new FakeEngine({ ops, limits: { historyEvents: 250 }, patched: { [WORKFLOW_BUDGET_PATCH]: false } });
    const result = await fake.run(maps('fit_legacy', 3).plan);
    expect(fake.world.shards).toEqual([]);
    expect(fake.world.children).toHaveLength(60);
    for (let m = 0; m < 3; m++) expect(outputOf(result.steps, `total_${m}`)).toEqual(expectedCollect);
  });

  it('legacyShardSize decides activity-mode shards under the gate false; the budget keeps them unsharded', async () => {
    const chain = job({ name: 'legacy_activity' }, () => {
      total(
        keys()
          .map((x) => work.alias('again')(work(x)), { mode: 'activity' })
          .collect(),
      );
    });
    const many: FakeOptions['ops'] = {
      ...ops,
      keys: () => items(Array.from({ length: 600 }, (_, i) => [`k${i}`, i] as [string, unknown])),
    };
    const legacy = new FakeEngine({ ops: many, patched: { [WORKFLOW_BUDGET_PATCH]: false } });
    const legacyResult = await legacy.run(chain.plan);
    // Two steps per key: max(50, 1000 / 2) = 500 keys per shard.
    expect(legacy.world.shards.map((s) => [s.start, s.end])).toEqual([
      [0, 500],
      [500, 600],
    ]);
    // The budget: 600 keys × 12 events + 12 fit 8,000 events.
    const current = new FakeEngine({ ops: many });
    const currentResult = await current.run(chain.plan);
    expect(current.world.shards).toEqual([]);
    expect(current.world.patchedAsked).toContain(WORKFLOW_BUDGET_PATCH);
    const expected = Array.from({ length: 600 }, (_, i) => i * 100);
    expect(outputOf(legacyResult.steps, 'total')).toEqual(expected);
    expect(outputOf(currentResult.steps, 'total')).toEqual(expected);
  });

  it('a stored fan-out always shards, even with few keys; its values come back through slice', async () => {
    const storedJob = job({ name: 'stored_fanout' }, () => {
      const d = keys();
      total(d.map(work).collect());
      total.alias('raw')(d.collect());
    });
    const big = 'x'.repeat(3000);
    const pairs: [string, unknown][] = [
      ['b', 2],
      ['a', 1],
      ['big', big],
    ];
    for (const gate of [true, false]) {
      const fake = new FakeEngine({
        patched: { [WORKFLOW_BUDGET_PATCH]: gate },
        ops: {
          keys: (_t, engine) => storedItems(engine.storeNow(pairs), pairs.length),
          work: (t) => value(typeof t.inputs.x === 'string' ? t.inputs.x.length : t.inputs.x),
          total: (t) => value(t.inputs.xs),
        },
      });
      const result = await fake.run(storedJob.plan);
      expect(fake.world.shards.map((s) => [s.start, s.end, s.inline])).toEqual([[0, 3, false]]);
      expect(fake.world.slices).toHaveLength(1);
      expect(fake.world.slices[0]).toMatchObject({ start: 0, end: 3, depth: 1, priorParts: [] });
      expect(isRef(fake.world.slices[0]?.itemsRef)).toBe(true);
      // The large item travelled to its key as a reference, and the op saw the value.
      const bigInput = fake.world.attempts.find((a) => a.stepKey === 'work[big]')?.rawInputs.x;
      expect(isRef(bigInput)).toBe(true);
      expect(outputOf(result.steps, 'total')).toEqual([2, 1, 3000]);
      // The raw collect of a stored fan-out is resolved lazily too.
      expect(fake.world.attempts.find((a) => a.node === 'raw')?.rawInputs.xs).toMatchObject({ $opgraphItems: { $opgraphRef: 1 } });
      expect(outputOf(result.steps, 'raw')).toEqual([2, 1, big]);
    }
  });

  it('a shard whose range exceeds keysPerShard splits again (a tree of shards) under a tiny budget', async () => {
    const treeJob = job({ name: 'tree' }, () => {
      total(keys().map(work, { shardSize: 5 }).collect());
    });
    const fake = new FakeEngine({ ops, limits: { historyEvents: 30 } });
    const result = await fake.run(treeJob.plan);
    // The job has room for one shard (30 − 12 own events < 2 × 15), each shard for two.
    const tree = fake.world.shards.map((s) => [s.workflow, s.start, s.end] as const);
    tree.sort(([w1, s1], [w2, s2]) => w1.length - w2.length || w1.localeCompare(w2) || s1 - s2);
    expect(tree).toEqual([
      ['job', 0, 20],
      ['job/keys[shard_0]', 0, 10],
      ['job/keys[shard_0]', 10, 20],
      ['job/keys[shard_0]/keys[shard_0]', 0, 5],
      ['job/keys[shard_0]/keys[shard_0]', 5, 10],
      ['job/keys[shard_0]/keys[shard_1]', 10, 15],
      ['job/keys[shard_0]/keys[shard_1]', 15, 20],
    ]);
    // Only the leaves run keys, five each.
    const parents = new Set(fake.world.children.map((c) => c.workflow));
    expect([...parents].sort()).toEqual([
      'job/keys[shard_0]/keys[shard_0]/keys[shard_0]',
      'job/keys[shard_0]/keys[shard_0]/keys[shard_1]',
      'job/keys[shard_0]/keys[shard_1]/keys[shard_0]',
      'job/keys[shard_0]/keys[shard_1]/keys[shard_1]',
    ]);
    expect(fake.world.children.map((c) => c.key)).toEqual(ORDER.map((i) => `k${i}`));
    expect(outputOf(result.steps, 'total')).toEqual(expectedCollect);
  });

  it('the same job under the gate false: flat legacy shards of shardSize, no tree', async () => {
    const treeJob = job({ name: 'tree_legacy' }, () => {
      total(keys().map(work, { shardSize: 5 }).collect());
    });
    const fake = new FakeEngine({ ops, limits: { historyEvents: 30 }, patched: { [WORKFLOW_BUDGET_PATCH]: false } });
    const result = await fake.run(treeJob.plan);
    expect(fake.world.shards.map((s) => [s.workflow, s.start, s.end])).toEqual([
      ['job', 0, 5],
      ['job', 5, 10],
      ['job', 10, 15],
      ['job', 15, 20],
    ]);
    expect(outputOf(result.steps, 'total')).toEqual(expectedCollect);
  });
});

describe('collects over sharded dimensions match unsharded runs', () => {
  const mixed = job({ name: 'mixed' }, () => {
    total(
      keys()
        .map((x) => work.alias('after')(maybe(x)), { shardSize: 3 })
        .collect(),
    );
  });
  const mixedUnsharded = job({ name: 'mixed_unsharded' }, () => {
    total(
      keys()
        .map((x) => work.alias('after')(maybe(x)))
        .collect(),
    );
  });
  const run = async (plan: typeof mixed.plan, produce: (x: number) => boolean, fail?: string) => {
    const fake = new FakeEngine({
      ops: {
        keys: () => items(shuffled(10)),
        maybe: (t) => {
          if (t.mappingKeys[0] === fail) throw new Error(`${fail} fails`);
          return produce(t.inputs.x as number) ? value(t.inputs.x) : [];
        },
        work: (t) => value((t.inputs.x as number) * 10),
        total: (t) => value(t.inputs.xs),
      },
    });
    const result: ScopeResult = await fake.run(plan);
    return { fake, steps: fake.allSteps(result) };
  };

  it('keys that skip are left out, in yield order, with the same records', async () => {
    const sharded = await run(mixed.plan, (x) => x % 3 !== 0);
    const unsharded = await run(mixedUnsharded.plan, (x) => x % 3 !== 0);
    expect(sharded.fake.world.shards.length).toBe(4);
    expect(unsharded.fake.world.shards).toEqual([]);
    const expected = ORDER.slice(0, 10)
      .filter((x) => x % 3 !== 0)
      .map((x) => x * 10);
    expect(outputOf(sharded.steps, 'total')).toEqual(expected);
    expect(outputOf(unsharded.steps, 'total')).toEqual(expected);
    expect(sharded.steps).toEqual(unsharded.steps);
  });

  it('when every key skips, the collect consumer is SKIPPED', async () => {
    const sharded = await run(mixed.plan, () => false);
    const unsharded = await run(mixedUnsharded.plan, () => false);
    expect(sharded.steps.total?.status).toBe('SKIPPED');
    expect(unsharded.steps.total?.status).toBe('SKIPPED');
    expect(sharded.steps).toEqual(unsharded.steps);
  });

  it('a failed key abandons the collect consumer in both', async () => {
    const sharded = await run(mixed.plan, () => true, 'k14');
    const unsharded = await run(mixedUnsharded.plan, () => true, 'k14');
    for (const { steps } of [sharded, unsharded]) {
      expect(steps['maybe[k14]']?.status).toBe('FAILURE');
      expect(steps['after[k14]']?.status).toBe('ABANDONED');
      expect(steps.total?.status).toBe('ABANDONED');
    }
    const { total: _a, ...shardedKeys } = sharded.steps;
    const { total: _b, ...unshardedKeys } = unsharded.steps;
    expect(shardedKeys).toEqual(unshardedKeys);
  });
});

describe('projected history events', () => {
  const activityMaps = job({ name: 'activity_maps' }, () => {
    for (let m = 0; m < 2; m++)
      total.alias(`total_${m}`)(
        keys
          .alias(`keys_${m}`)()
          .map(work.alias(`work_${m}`), { mode: 'activity' })
          .collect(),
      );
  });

  // An activity-mode key's steps are reserved with its map only, not again when the key's scope runs
  // inline (before 905b004 they were counted twice: projected 279, and the second map sharded).
  it('activity-mode keys are counted once: two maps that fit together both run here', async () => {
    const fake = new FakeEngine({ ops, limits: { historyEvents: 300 } });
    await fake.run(activityMaps.plan);
    // 4 own steps (24 events) + 2 maps × 20 keys × 6 events = 264 ≤ 300.
    expect(fake.world.shards).toEqual([]);
    expect(fake.budget.projectedEvents).toBe(264);
  });

  // Regression: the decision, made at stage 0, once projected only one stage's keys; every later
  // stage issues as many commands again. 400 keys over 3 stages in child mode made 1,200 children
  // (10,824 events, past Temporal's 10,240 warning) on a projection of 3,624.
  const plus = op({ name: 'plus' }, async (_ctx, x: number, y: number) => x + y);
  const threeStages = (mode: 'child' | 'activity') =>
    job({ name: `three_stages_${mode}` }, () => {
      const r = keys().map(work, { mode });
      const s1 = total(r.collect());
      const r2 = r.map((v) => plus(v, s1));
      const s2 = total.alias('t2')(r2.collect());
      total.alias('t3')(r2.map((v) => plus.alias('p3')(v, s2)).collect());
    });
  const projectsEveryStage = (mode: 'child' | 'activity') => async () => {
    const fake = new FakeEngine({
      ops: {
        keys: () => items(Array.from({ length: 400 }, (_, i) => [`k${i}`, i] as [string, unknown])),
        work: () => value(1),
        plus: () => value(1),
        total: () => value(0),
      },
    });
    await fake.run(threeStages(mode).plan);
    expect(fake.budget.projectedEvents).toBeGreaterThanOrEqual(jobEvents(fake));
  };
  it('a dimension split into stages projects the children of every stage', projectsEveryStage('child'));
  it('a dimension split into stages projects the activities of every stage', projectsEveryStage('activity'));
});
