/**
 * Inline keys (mode 'activity') run with few promises per key (LEAN_KEYS_PATCH, src/engine/keyed.ts):
 * inside a workflow the SDK captures a stack trace for every promise, so promises per key are workflow
 * CPU per key. Counted here with a V8 promise hook around the interpreter and the fake engine; the
 * fake's own promises per attempt are the same on both paths. Runs recorded before the patch keep the
 * async path, with the same step records.
 */
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op, RetryPolicy } from '../../src/dsl/index.ts';
import { LEAN_KEYS_PATCH } from '../../src/engine/keyed.ts';
import { FakeEngine, items, keyed, value } from './fakeEngine.ts';

const keys = op({ name: 'keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(0, '0');
});
const inc = op({ name: 'inc' }, async (_ctx, x: number) => x + 1);
/** The same op, retried once after a failure (Dagster's RetryPolicy). */
const incRetried = op({ name: 'inc', retryPolicy: new RetryPolicy({ maxRetries: 1 }) }, async (_ctx, x: number) => x + 1);
const double = op({ name: 'double' }, async (_ctx, x: number) => x * 2);
const seed = op({ name: 'seed' }, async () => 5);
const add = op({ name: 'add' }, async (_ctx, x: number, y: number) => x + y);
const total = op({ name: 'total' }, async (_ctx, xs: unknown[]) => xs.length);

const KEYS = 300;

/** One step per key, and a chain of two with a value from outside the map. */
const oneStep = job({ name: 'lean_one_step' }, () => {
  total(keys().map(inc, { mode: 'activity' }).collect());
});
const chained = job({ name: 'lean_chained' }, () => {
  const s = seed();
  total(
    keys()
      .map((x) => double(add(inc(x), s)), { mode: 'activity' })
      .collect(),
  );
});

const num = (v: unknown) => v as number;

async function run(definition: typeof oneStep, lean: boolean, failing?: string) {
  let tries = 0;
  const fake = new FakeEngine({
    patched: (id) => id !== LEAN_KEYS_PATCH || lean,
    ops: {
      keys: () => items(keyed(KEYS)),
      seed: () => value(5),
      inc: (t) => {
        // One key fails once (retried), to cover the lean path's hand-over to the retry loop.
        if (t.mappingKeys[0] === failing && tries++ === 0) throw new Error(`${failing} fails once`);
        return value(num(t.inputs.x) + 1);
      },
      add: (t) => value(num(t.inputs.x) + num(t.inputs.y)),
      double: (t) => value(num(t.inputs.x) * 2),
      total: (t) => value((t.inputs.xs as number[]).reduce((a, b) => a + b, 0)),
    },
  });
  let promises = 0;
  const stop: () => void = v8.promiseHooks.onInit(() => promises++) as () => void;
  let result;
  try {
    result = await fake.run(definition.plan);
  } finally {
    stop();
  }
  return { steps: fake.allSteps(result), result, promises, asked: fake.world.patchedAsked };
}

describe('inline keys with few promises (LEAN_KEYS_PATCH)', () => {
  it.each([
    ['one step per key', oneStep, 10],
    ['three chained steps per key, one of them with an input from outside the map', chained, 25],
  ] as const)('%s: the same step records as the async path, with at most half the promises per key', async (_name, definition, saved) => {
    const lean = await run(definition, true);
    const async = await run(definition, false);
    expect(lean.steps).toEqual(async.steps);
    expect(Object.keys(lean.result.steps)).toEqual(Object.keys(async.result.steps));
    expect(lean.asked).toContain(LEAN_KEYS_PATCH);
    const perKey = (n: number) => n / KEYS;
    console.error(`[lean] ${_name}: ${perKey(lean.promises).toFixed(1)} promises per key, async path ${perKey(async.promises).toFixed(1)}`);
    // Measured when it was added (fake included): one step, 11 against 23 per key; three steps, 31 against 63.
    expect(perKey(async.promises) - perKey(lean.promises)).toBeGreaterThanOrEqual(saved);
  });

  it('a failed first attempt goes on in the retry loop: retried per the op policy, same records as the async path', async () => {
    const retrying = job({ name: 'lean_retry' }, () => {
      total(keys().map(incRetried, { mode: 'activity' }).collect());
    });
    const lean = await run(retrying, true, 'k7');
    const async = await run(retrying, false, 'k7');
    expect(lean.steps['inc[k7]']).toMatchObject({ status: 'SUCCESS', attempts: 2 });
    expect(lean.steps).toEqual(async.steps);
  });

  it('child and batch maps do not ask for the patch (it would add a marker to every child history)', async () => {
    for (const mode of ['child', 'batch'] as const) {
      const definition = job({ name: `lean_${mode}` }, () => {
        total(keys().map(inc, { mode }).collect());
      });
      const { asked } = await run(definition, true);
      expect(asked).not.toContain(LEAN_KEYS_PATCH);
    }
  });
});
