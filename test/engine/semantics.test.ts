/**
 * The interpreter's Dagster semantics (reference/dagster-semantics.md §6, DESIGN §5) through a fake
 * engine: skip and abandon propagation, stages, user retries, and the three map modes giving the
 * same step records.
 */
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op, Out, RetryPolicy } from '../../src/dsl/index.ts';
import type { FanOutMode } from '../../src/dsl/plan.ts';
import type { StepRecord } from '../../src/dsl/protocol.ts';
import { FakeCancelled, FakeEngine, FakeFatal, FakeOpError, items, keyed, value } from './fakeEngine.ts';

// Op bodies never run here: the fake's per-op functions produce the outputs.
const keys = op({ name: 'keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(0, '0');
});
const maybeKeys = op({ name: 'maybe_keys', out: new DynamicOut<number>({ isRequired: false }) }, async function* () {});
const inc = op({ name: 'inc' }, async (_ctx, x: number) => x + 1);
const double = op({ name: 'double' }, async (_ctx, x: number) => x * 2);
const total = op({ name: 'total' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const plus = op({ name: 'plus' }, async (_ctx, x: number, y: number) => x + y);
const maybe = op({ name: 'maybe', out: new Out<number>({ isRequired: false }) }, async (_ctx, x: number) => x);
const two = op({ name: 'two', out: { main: new Out<number>(), extra: new Out<number>({ isRequired: false }) } }, (async () => 1) as never);
const inner = op({ name: 'inner', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  yield new DynamicOutput(x, '0');
});
const independent = op({ name: 'independent' }, async () => 7);

/** `.map` options of a mode: batchSize only where it means something. */
const modeOptions = (mode: FanOutMode, batchSize: number) => (mode === 'batch' ? { mode, batchSize } : { mode });

const sum = (xs: unknown) => (xs as number[]).reduce((a, b) => a + b, 0);
const num = (x: unknown) => x as number;

function record(steps: Record<string, StepRecord>, key: string): StepRecord {
  const found = steps[key];
  if (!found) throw new Error(`no step ${key} among ${Object.keys(steps).join(', ')}`);
  return found;
}

function outputOf(steps: Record<string, StepRecord>, key: string, name = 'result'): unknown {
  const output = record(steps, key).outputs?.find((o) => o.name === name);
  if (!output || !('value' in output)) throw new Error(`${key} has no value output "${name}"`);
  return output.value;
}

function statuses(steps: Record<string, StepRecord>): Record<string, string> {
  return Object.fromEntries(Object.entries(steps).map(([k, r]) => [k, r.status]));
}

describe('skip propagation', () => {
  const skipJob = job({ name: 'skip_optional' }, () => {
    const t = two();
    const usedExtra = inc.alias('use_extra')(t.extra);
    const afterExtra = inc.alias('after_extra')(usedExtra);
    const usedMain = inc.alias('use_main')(t.main);
    total.alias('fanin_some')([usedMain, usedExtra]);
    total.alias('fanin_none')([usedExtra, afterExtra]);
  });

  it('an optional output not produced skips its consumers and their descendants; fan-ins drop missing sources', async () => {
    const fake = new FakeEngine({
      ops: { two: () => value(1, 'main'), inc: (t) => value(num(t.inputs.x) + 1), total: (t) => value(sum(t.inputs.xs)) },
    });
    const { steps } = await fake.run(skipJob.plan);
    expect(statuses(steps)).toEqual({
      two: 'SUCCESS',
      use_extra: 'SKIPPED',
      after_extra: 'SKIPPED',
      use_main: 'SUCCESS',
      fanin_some: 'SUCCESS',
      fanin_none: 'SKIPPED',
    });
    expect(outputOf(steps, 'use_main')).toBe(2);
    // The fan-in with one produced source runs with just that value.
    expect(outputOf(steps, 'fanin_some')).toBe(2);
    expect(fake.world.attempts.map((a) => a.stepKey).sort()).toEqual(['fanin_some', 'two', 'use_main']);
    expect(record(steps, 'use_extra').error).toBeUndefined();
  });

  it('a required fan-out with zero items: mapped steps absent, the collect consumer runs with []', async () => {
    const zeroJob = job({ name: 'zero_items' }, () => {
      inc(total(keys().map(double).collect()));
    });
    const fake = new FakeEngine({
      ops: { keys: () => items([]), double: () => value(0), total: (t) => value(t.inputs.xs), inc: () => value(1) },
    });
    const { steps } = await fake.run(zeroJob.plan);
    expect(statuses(steps)).toEqual({ keys: 'SUCCESS', total: 'SUCCESS', inc: 'SUCCESS' });
    expect(outputOf(steps, 'total')).toEqual([]);
    expect(fake.world.attempts.find((a) => a.node === 'double')).toBeUndefined();
    expect(fake.world.attempts.find((a) => a.node === 'total')?.rawInputs).toEqual({ xs: [] });
    expect(fake.world.children).toEqual([]);
  });

  it('an optional fan-out not produced: no mapped steps, the collect consumer and its descendants SKIPPED', async () => {
    const optionalJob = job({ name: 'optional_fanout' }, () => {
      inc(total(maybeKeys().map(double).collect()));
    });
    const fake = new FakeEngine({ ops: { maybe_keys: () => [], double: () => value(0), total: () => value(0), inc: () => value(1) } });
    const { steps } = await fake.run(optionalJob.plan);
    expect(statuses(steps)).toEqual({ maybe_keys: 'SUCCESS', total: 'SKIPPED', inc: 'SKIPPED' });
    expect(fake.world.attempts.map((a) => a.node)).toEqual(['maybe_keys']);
  });

  it('clones that skip are left out of the collect; when all clones skip, the collect consumer is SKIPPED', async () => {
    const skipClones = job({ name: 'skip_clones' }, () => {
      total(
        keys()
          .map((x) => inc(maybe(x)))
          .collect(),
      );
    });
    const run = async (produce: (x: number) => boolean) => {
      const fake = new FakeEngine({
        ops: {
          keys: () => items(keyed(5)),
          maybe: (t) => (produce(num(t.inputs.x)) ? value(t.inputs.x) : []),
          inc: (t) => value(num(t.inputs.x) + 1),
          total: (t) => value(t.inputs.xs),
        },
      });
      return (await fake.run(skipClones.plan)).steps;
    };
    const some = await run((x) => x % 2 === 0);
    expect(record(some, 'inc[k1]').status).toBe('SKIPPED');
    expect(record(some, 'maybe[k1]').status).toBe('SUCCESS');
    expect(outputOf(some, 'total')).toEqual([1, 3, 5]);
    const none = await run(() => false);
    expect(record(none, 'total').status).toBe('SKIPPED');
    for (let i = 0; i < 5; i++) expect(record(none, `inc[k${i}]`).status).toBe('SKIPPED');
  });
});

describe('abandon propagation', () => {
  const abandonJob = (mode: FanOutMode) =>
    job({ name: `abandon_${mode}` }, () => {
      const r = keys().map((x) => double(inc(x)), modeOptions(mode, 2));
      inc.alias('after_total')(total(r.collect()));
      independent();
    });

  it.each(['child', 'activity', 'batch'] as const)(
    'one mapped key fails (mode %s): same-key descendants and the collect consumer ABANDONED, siblings SUCCESS',
    async (mode) => {
      const fake = new FakeEngine({
        ops: {
          keys: () => items(Array.from({ length: 6 }, (_, i) => [String(i), i] as [string, unknown])),
          inc: (t) => {
            if (t.mappingKeys[0] === '3') throw new Error('key 3 is broken');
            return value(num(t.inputs.x) + 1);
          },
          double: (t) => value(num(t.inputs.x) * 2),
          total: (t) => value(sum(t.inputs.xs)),
          independent: () => value(7),
        },
      });
      const steps = fake.allSteps(await fake.run(abandonJob(mode).plan));
      expect(record(steps, 'inc[3]')).toMatchObject({
        status: 'FAILURE',
        error: { type: 'OpUserError', message: 'key 3 is broken' },
        attempts: 1,
      });
      expect(record(steps, 'double[3]')).toMatchObject({
        status: 'ABANDONED',
        mappingKeys: ['3'],
        error: { type: 'Abandoned', message: 'Dependencies for step double[3] failed: [inc[3]] failed. Not executing.' },
      });
      for (const k of ['0', '1', '2', '4', '5']) {
        expect(record(steps, `inc[${k}]`).status).toBe('SUCCESS');
        expect(outputOf(steps, `double[${k}]`)).toBe((Number(k) + 1) * 2);
      }
      expect(record(steps, 'total')).toMatchObject({ status: 'ABANDONED' });
      expect(record(steps, 'total').error?.message).toContain('[double[3]] was not executed');
      expect(record(steps, 'after_total')).toMatchObject({
        status: 'ABANDONED',
        error: { message: 'Dependencies for step after_total failed: [total] was not executed. Not executing.' },
      });
      expect(record(steps, 'independent').status).toBe('SUCCESS');
      // Siblings ran; nothing downstream of the failure did.
      const ran = fake.world.attempts.map((a) => a.stepKey);
      expect(ran).not.toContain('double[3]');
      expect(ran).not.toContain('total');
      expect(ran.filter((k) => k.startsWith('double['))).toHaveLength(5);
    },
  );

  it('a failed fan-out abandons its collect consumer, with no clones at all', async () => {
    const fanOutFails = job({ name: 'fanout_fails' }, () => {
      total(keys().map(double).collect());
      independent();
    });
    const fake = new FakeEngine({
      ops: {
        keys: () => {
          throw new Error('no keys today');
        },
        double: () => value(0),
        total: () => value(0),
        independent: () => value(7),
      },
    });
    const { steps } = await fake.run(fanOutFails.plan);
    expect(statuses(steps)).toEqual({ keys: 'FAILURE', total: 'ABANDONED', independent: 'SUCCESS' });
    expect(record(steps, 'total').error?.message).toBe('Dependencies for step total failed: [keys] failed. Not executing.');
    expect(fake.world.children).toEqual([]);
  });
});

describe('stages', () => {
  const stagedJob = (mode: FanOutMode, shardSize?: number) =>
    job({ name: `staged_${mode}` }, () => {
      const r = keys().map(double, { ...modeOptions(mode, 2), ...(shardSize ? { shardSize } : {}) });
      const s = total(r.collect());
      total.alias('final')(r.map((v) => plus(v, s)).collect());
    });
  const ops = {
    keys: () => items(keyed(5, (i) => i + 1)),
    double: (t: { inputs: Record<string, unknown> }) => value(num(t.inputs.x) * 2),
    total: (t: { inputs: Record<string, unknown> }) => value(sum(t.inputs.xs)),
    plus: (t: { inputs: Record<string, unknown> }) => value(num(t.inputs.x) + num(t.inputs.y)),
  };

  it('the plan splits the dimension: stage 0 double, stage 1 plus', () => {
    const nodes = Object.fromEntries(stagedJob('child').plan.nodes.map((n) => [n.id, n.stages]));
    expect(nodes).toMatchObject({ double: [0], plus: [1] });
  });

  it.each([
    ['child', undefined],
    ['activity', undefined],
    ['batch', undefined],
    ['child', 2],
    ['activity', 2],
  ] as const)('mode %s (shardSize %s): stage 1 runs after stage 0 and sees the collect of stage 0', async (mode, shardSize) => {
    const fake = new FakeEngine({ ops });
    const steps = fake.allSteps(await fake.run(stagedJob(mode, shardSize).plan));
    // doubles: 2 4 6 8 10 → s = 30; plus: 32 34 36 38 40 → 180.
    expect(outputOf(steps, 'total')).toBe(30);
    for (let i = 0; i < 5; i++) expect(outputOf(steps, `plus[k${i}]`)).toBe((i + 1) * 2 + 30);
    expect(outputOf(steps, 'final')).toBe(180);
    const order = fake.world.attempts.map((a) => a.node);
    const lastDouble = order.lastIndexOf('double');
    const firstPlus = order.indexOf('plus');
    expect(lastDouble).toBeLessThan(order.indexOf('total'));
    expect(order.indexOf('total')).toBeLessThan(firstPlus);
    expect(order.filter((n) => n === 'double')).toHaveLength(5);
    if (mode === 'child' && !shardSize) {
      expect(fake.world.children.map((c) => [c.key, c.stage])).toEqual([
        ...['k0', 'k1', 'k2', 'k3', 'k4'].map((k) => [k, 0]),
        ...['k0', 'k1', 'k2', 'k3', 'k4'].map((k) => [k, 1]),
      ]);
      expect(fake.world.children.at(-1)?.id).toBe('job/keys[k4]/stage_2');
    }
    if (shardSize) {
      // Later stages keep the first stage's shards; stage 1's shards read stage 0's records from the store.
      const ranges = (stage: number) => fake.world.shards.filter((s) => s.stage === stage).map((s) => [s.start, s.end]);
      expect(ranges(0)).toEqual([
        [0, 2],
        [2, 4],
        [4, 5],
      ]);
      expect(ranges(1)).toEqual(ranges(0));
      const priorSlices = fake.world.slices.filter((s) => s.priorParts.length > 0);
      expect(priorSlices).toHaveLength(3);
      expect(priorSlices.map((s) => s.keys)).toEqual([['k0', 'k1'], ['k2', 'k3'], ['k4']]);
      expect(priorSlices.every((s) => s.priorNodes.join() === 'double')).toBe(true);
    }
  });
});

describe('user retries', () => {
  const flaky = op({ name: 'flaky', retryPolicy: new RetryPolicy({ maxRetries: 2, delay: 1, backoff: 'exponential' }) }, async () => 1);
  const retryJob = job({ name: 'retry_job' }, () => {
    inc(flaky());
  });

  it('fails twice then succeeds: 3 attempts, sleeps of 1000 and 3000 ms, SUCCESS with attempts 3', async () => {
    const fake = new FakeEngine({
      ops: {
        flaky: (t) => {
          if (t.attempt < 3) throw new Error(`attempt ${t.attempt} failed`);
          return value(41);
        },
        inc: (t) => value(num(t.inputs.x) + 1),
      },
    });
    const { steps } = await fake.run(retryJob.plan);
    expect(fake.world.attempts.filter((a) => a.stepKey === 'flaky').map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(fake.world.sleeps).toEqual([1000, 3000]);
    expect(record(steps, 'flaky')).toMatchObject({ status: 'SUCCESS', attempts: 3 });
    expect(outputOf(steps, 'inc')).toBe(42);
  });

  it('failing always: FAILURE after 3 attempts, with the op error, and its consumer ABANDONED', async () => {
    const fake = new FakeEngine({
      ops: {
        flaky: () => {
          throw new Error('always');
        },
        inc: () => value(0),
      },
    });
    const { steps } = await fake.run(retryJob.plan);
    expect(record(steps, 'flaky')).toMatchObject({ status: 'FAILURE', attempts: 3, error: { type: 'OpUserError', message: 'always' } });
    expect(fake.world.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(fake.world.sleeps).toEqual([1000, 3000]);
    expect(record(steps, 'inc').status).toBe('ABANDONED');
  });

  it('a non-user error (OpValidationError) is not retried', async () => {
    const fake = new FakeEngine({
      ops: {
        flaky: () => {
          throw new FakeOpError('OpValidationError', 'output "result" is not JSON');
        },
        inc: () => value(0),
      },
    });
    const { steps } = await fake.run(retryJob.plan);
    expect(record(steps, 'flaky')).toMatchObject({
      status: 'FAILURE',
      attempts: 1,
      error: { type: 'OpValidationError', message: 'output "result" is not JSON' },
    });
    expect(fake.world.attempts).toHaveLength(1);
    expect(fake.world.sleeps).toEqual([]);
  });

  it('without a RetryPolicy a user error is not retried', async () => {
    const fake = new FakeEngine({
      ops: {
        inc: () => {
          throw new Error('no');
        },
        flaky: () => value(1),
      },
    });
    const { steps } = await fake.run(retryJob.plan);
    expect(record(steps, 'inc')).toMatchObject({ status: 'FAILURE', attempts: 1 });
  });

  it('retries are counted per step key of a map', async () => {
    const flakyOf = op(
      { name: 'flaky_of', retryPolicy: new RetryPolicy({ maxRetries: 2, delay: 1, backoff: 'exponential' }) },
      async (_ctx, x: number) => x,
    );
    const mappedJob = job({ name: 'retry_mapped' }, () => {
      total(keys().map(flakyOf, { mode: 'activity' }).collect());
    });
    const fake = new FakeEngine({
      ops: {
        keys: () => items(keyed(3)),
        flaky_of: (t) => {
          if (t.mappingKeys[0] === 'k1' && t.attempt === 1) throw new Error('once');
          return value(t.inputs.x);
        },
        total: (t) => value(t.inputs.xs),
      },
    });
    const { steps } = await fake.run(mappedJob.plan);
    const attempts = (key: string) => fake.world.attempts.filter((a) => a.stepKey === key).map((a) => a.attempt);
    expect(attempts('flaky_of[k0]')).toEqual([1]);
    expect(attempts('flaky_of[k1]')).toEqual([1, 2]);
    expect(attempts('flaky_of[k2]')).toEqual([1]);
    expect(record(steps, 'flaky_of[k1]').attempts).toBe(2);
    expect(fake.world.sleeps).toEqual([1000]);
    expect(outputOf(steps, 'total')).toEqual([0, 1, 2]);
  });

  it('jitter draws from the engine’s seeded random(): same seed, same delays, within bounds', async () => {
    const jittery = op({ name: 'jittery', retryPolicy: new RetryPolicy({ maxRetries: 3, delay: 2, jitter: 'full' }) }, async () => 1);
    const jitterJob = job({ name: 'jitter_job' }, () => {
      jittery();
    });
    const run = async (seed: number) => {
      const fake = new FakeEngine({
        seed,
        ops: {
          jittery: () => {
            throw new Error('x');
          },
        },
      });
      await fake.run(jitterJob.plan);
      return fake.world.sleeps;
    };
    const first = await run(7);
    expect(first).toHaveLength(3);
    for (const ms of first) expect(ms).toBeGreaterThanOrEqual(0);
    for (const ms of first) expect(ms).toBeLessThanOrEqual(2000);
    expect(await run(7)).toEqual(first);
    expect(await run(8)).not.toEqual(first);
  });

  it('plus-minus jitter: Dagster’s formula behind the opgraph-dagster-jitter marker, the old one without it', async () => {
    const pm = op(
      { name: 'pm', retryPolicy: new RetryPolicy({ maxRetries: 3, delay: 2, backoff: 'exponential', jitter: 'plus_minus' }) },
      async () => 1,
    );
    const pmJob = job({ name: 'pm_job' }, () => {
      pm();
    });
    const run = async (marker: boolean) => {
      const fake = new FakeEngine({
        seed: 7,
        patched: { 'opgraph-dagster-jitter': marker },
        ops: {
          pm: () => {
            throw new Error('x');
          },
        },
      });
      await fake.run(pmJob.plan);
      return fake.world;
    };
    const current = await run(true);
    expect(current.sleeps).toEqual([47, 4248, 15_908]);
    expect(current.patchedAsked.filter((id) => id === 'opgraph-dagster-jitter')).toHaveLength(3);
    expect((await run(false)).sleeps).toEqual([1023, 3372, 20_677]);
  });
});

describe('modes give the same step records', () => {
  const modesJob = (mode: FanOutMode) =>
    job({ name: `modes_${mode}` }, () => {
      total(
        keys()
          .map((x) => double(inc(x)), modeOptions(mode, 3))
          .collect(),
      );
    });
  const run = async (mode: FanOutMode) => {
    const fake = new FakeEngine({
      ops: {
        keys: () => items(keyed(7, (i) => i * 10)),
        inc: (t) => {
          if (t.mappingKeys[0] === 'k4') throw new Error('k4 fails');
          return value(num(t.inputs.x) + 1);
        },
        double: (t) => value(num(t.inputs.x) * 2),
        total: (t) => value(sum(t.inputs.xs)),
      },
    });
    const result = await fake.run(modesJob(mode).plan);
    return { fake, steps: fake.allSteps(result), result };
  };

  it('child, activity and batch: equal records; one child per key, ceil(n/batchSize) batches, no children in activity mode', async () => {
    const child = await run('child');
    const activity = await run('activity');
    const batch = await run('batch');
    expect(Object.keys(child.steps)).toHaveLength(1 + 7 + 7 + 1);
    expect(record(child.steps, 'double[k4]').status).toBe('ABANDONED');
    expect(record(child.steps, 'double[k6]')).toEqual({
      node: 'double',
      status: 'SUCCESS',
      mappingKeys: ['k6'],
      attempts: 1,
      outputs: value(122),
    });
    expect(activity.steps).toEqual(child.steps);
    expect(batch.steps).toEqual(child.steps);
    // Steps in plan order, clones in yield order, whatever the mode.
    expect(Object.keys(activity.result.steps)).toEqual(Object.keys(child.result.steps));
    expect(Object.keys(batch.result.steps)).toEqual(Object.keys(child.result.steps));

    expect(child.fake.world.children.map((c) => c.key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
    expect(
      child.fake.world.children.every((c) => c.source === 'keys' && c.output === 'result' && c.stage === 0 && c.outerKeys.length === 0),
    ).toBe(true);
    expect(child.fake.world.children[2]?.id).toBe('job/keys[k2]');
    expect(child.fake.world.batches).toEqual([]);
    // Each key's steps ran inside its child workflow.
    expect(child.fake.world.attempts.find((a) => a.stepKey === 'double[k2]')?.workflow).toBe('job/keys[k2]');

    expect(batch.fake.world.batches.map((b) => [b.batchIndex, b.keys])).toEqual([
      [0, ['k0', 'k1', 'k2']],
      [1, ['k3', 'k4', 'k5']],
      [2, ['k6']],
    ]);
    expect(batch.fake.world.children).toEqual([]);

    expect(activity.fake.world.children).toEqual([]);
    expect(activity.fake.world.batches).toEqual([]);
    expect(activity.fake.world.attempts.every((a) => a.workflow === 'job')).toBe(true);
  });
});

describe('nested dimensions', () => {
  const modes = ['child', 'activity', 'batch'] as const;
  const combos = modes.flatMap((outer) =>
    modes.flatMap((innerMode) => [false, true].map((sharded) => [outer, innerMode, sharded] as const)),
  );
  const nestedJob = (outer: FanOutMode, innerMode: FanOutMode, sharded: boolean) =>
    job({ name: `nested_${outer}_${innerMode}_${sharded}` }, () => {
      const perKey = keys().map(
        (k) =>
          total.alias('per_key')(
            inner(k)
              .map(double, { ...modeOptions(innerMode, 2), ...(sharded ? { shardSize: 2 } : {}) })
              .collect(),
          ),
        modeOptions(outer, 2),
      );
      total.alias('all')(perKey.collect());
    });
  const run = async (outer: FanOutMode, innerMode: FanOutMode, sharded: boolean, failing?: string) => {
    const fake = new FakeEngine({
      ops: {
        keys: () => items(keyed(3, (i) => i + 1)),
        inner: (t) => items(keyed(num(t.inputs.x) + 1, (i) => i, 'j')),
        double: (t) => {
          if (t.stepKey === failing) throw new Error(`${failing} fails`);
          return value(num(t.inputs.x) * 2);
        },
        total: (t) => value(t.inputs.xs),
      },
    });
    return fake.allSteps(await fake.run(nestedJob(outer, innerMode, sharded).plan));
  };

  it('step keys carry both mapping keys; each outer key collects its own inner keys', async () => {
    const steps = await run('child', 'child', false);
    expect(outputOf(steps, 'double[k2,j3]')).toBe(6);
    expect(record(steps, 'double[k2,j3]').mappingKeys).toEqual(['k2', 'j3']);
    expect(outputOf(steps, 'per_key[k0]')).toEqual([0, 2]);
    expect(outputOf(steps, 'per_key[k2]')).toEqual([0, 2, 4, 6]);
    expect(outputOf(steps, 'all')).toEqual([
      [0, 2],
      [0, 2, 4],
      [0, 2, 4, 6],
    ]);
  });

  it.each(combos)(
    'outer %s, inner %s (sharded: %s): the same records as child/child, failures included',
    async (outer, innerMode, sharded) => {
      const expected = await run('child', 'child', false, 'double[k1,j2]');
      const steps = await run(outer, innerMode, sharded, 'double[k1,j2]');
      expect(record(steps, 'double[k1,j2]').status).toBe('FAILURE');
      expect(record(steps, 'per_key[k1]').status).toBe('ABANDONED');
      expect(record(steps, 'all').status).toBe('ABANDONED');
      const { per_key: _a, all: _b, ...rest } = steps;
      const { per_key: _c, all: _d, ...expectedRest } = expected;
      // The collect consumers' abandonment message names the failed step differently once sharded.
      const withoutAbandoned = (all: Record<string, StepRecord>) =>
        Object.fromEntries(Object.entries(all).filter(([, r]) => r.status !== 'ABANDONED'));
      expect(withoutAbandoned(rest)).toEqual(withoutAbandoned(expectedRest));
      expect(statuses(steps)).toEqual(statuses(expected));
    },
  );
});

describe('cancellation and broken plans', () => {
  it('a cancellation propagates untouched: no FAILURE record, no retry', async () => {
    const flaky = op({ name: 'cancel_me', retryPolicy: new RetryPolicy({ maxRetries: 3 }) }, async () => 1);
    const cancelJob = job({ name: 'cancelled' }, () => {
      inc(flaky());
    });
    const fake = new FakeEngine({
      ops: {
        cancel_me: () => {
          throw new FakeCancelled('run cancelled');
        },
        inc: () => value(0),
      },
    });
    await expect(fake.run(cancelJob.plan)).rejects.toBeInstanceOf(FakeCancelled);
    expect(fake.world.attempts).toHaveLength(1);
    expect(fake.world.sleeps).toEqual([]);
  });

  it('a plan naming a node it does not have ends the run with the engine’s fatal error', async () => {
    const plan = job({ name: 'broken_plan' }, () => {
      total(keys().map(double).collect());
    }).plan;
    // The collect's producer is gone: the plan is broken.
    const broken = { ...plan, nodes: plan.nodes.filter((n) => n.id !== 'double') };
    const fake = new FakeEngine({ ops: { keys: () => items(keyed(2)), total: () => value(0) } });
    await expect(fake.run(broken)).rejects.toThrow(FakeFatal);
    await expect(fake.run(broken)).rejects.toThrow('plan has no node "double"');
  });
});
