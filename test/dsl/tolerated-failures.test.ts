/**
 * `.map(fn, { toleratedFailures })` at definition time: exactly one of `count` (an integer ≥ 0) and
 * `ratio` (0 to 1), each problem a JobDefinitionError naming the node and the fix; and the rule
 * itself (Step Functions' ToleratedFailureCount / Percentage: fail when failed > count, or failed /
 * total > ratio).
 */
import { describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, JobDefinitionError, op } from 'opgraph';
import { allowedFailures, exceedsTolerance, toleranceMessage } from '../../src/dsl/tolerance.ts';

const emit = op({ name: 'tolerance_emit', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a');
});
const work = op({ name: 'tolerance_work' }, async (_ctx, x: number) => x);
const collectAll = op({ name: 'tolerance_collect' }, async (_ctx, xs: number[]) => xs.length);

function definitionError(toleratedFailures: unknown, extra: Record<string, unknown> = {}): JobDefinitionError {
  try {
    job({ name: 'tolerance_job' }, () =>
      collectAll(
        emit()
          .map(work, { ...extra, toleratedFailures } as never)
          .collect(),
      ),
    );
  } catch (err) {
    if (err instanceof JobDefinitionError) return err;
    throw err;
  }
  throw new Error('expected a JobDefinitionError');
}

describe('toleratedFailures is checked when job() runs', () => {
  it.each([
    [{ count: -1 }, 'toleratedFailures.count must be an integer ≥ 0, got -1'],
    [{ count: 2.5 }, 'toleratedFailures.count must be an integer ≥ 0, got 2.5'],
    [{ count: Number.NaN }, 'toleratedFailures.count must be an integer ≥ 0, got NaN'],
    [{ count: '3' }, 'toleratedFailures.count must be an integer ≥ 0, got "3"'],
    [{ ratio: -0.1 }, 'toleratedFailures.ratio must be a number from 0 to 1, got -0.1'],
    [{ ratio: 1.5 }, 'toleratedFailures.ratio must be a number from 0 to 1, got 1.5'],
    [{ ratio: Number.POSITIVE_INFINITY }, 'toleratedFailures.ratio must be a number from 0 to 1, got Infinity'],
    [{ count: 1, ratio: 0.5 }, 'toleratedFailures gives both count and ratio'],
    [{}, 'toleratedFailures gives neither count nor ratio'],
    [{ percent: 5 }, 'toleratedFailures has unknown key "percent"'],
    [5, 'toleratedFailures must be an object, got 5'],
    [null, 'toleratedFailures must be an object, got null'],
  ])('%j: one issue naming the node, with a fix', (given, message) => {
    const err = definitionError(given);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ code: 'map-options', job: 'tolerance_job', node: 'tolerance_emit', message });
    expect(err.issues[0]?.fix).toMatch(/count|ratio/);
    expect(err.message).toContain(`node "tolerance_emit": ${message}`);
  });

  it('says how to give it: exactly one of count and ratio', () => {
    expect(definitionError({ count: 1, ratio: 0.5 }).issues[0]?.fix).toBe(
      'give exactly one of toleratedFailures: { count: n } (n failed keys, an integer ≥ 0) or { ratio: r } (0 ≤ r ≤ 1)',
    );
  });

  it('is reported with the other problems of the same options', () => {
    const err = definitionError({ ratio: 2 }, { maxConcurrency: 5000 });
    expect(err.issues.map((i) => i.message)).toEqual([
      'toleratedFailures.ratio must be a number from 0 to 1, got 2',
      expect.stringContaining('maxConcurrency 5000 is over'),
    ]);
  });

  it.each([{ count: 0 }, { count: 3 }, { ratio: 0 }, { ratio: 0.05 }, { ratio: 1 }])(
    'accepts %j and puts it in the plan',
    (toleratedFailures) => {
      const definition = job({ name: 'tolerance_ok' }, () => collectAll(emit().map(work, { toleratedFailures }).collect()));
      expect(definition.plan.dimensions).toEqual({ 'tolerance_emit:result': { toleratedFailures } });
    },
  );
});

describe('the rule: failed > count, or failed / total > ratio', () => {
  it('count', () => {
    expect(exceedsTolerance({ count: 3 }, 3, 40)).toBe(false);
    expect(exceedsTolerance({ count: 3 }, 4, 40)).toBe(true);
    expect(exceedsTolerance({ count: 0 }, 1, 40)).toBe(true);
    expect(exceedsTolerance({ count: 0 }, 0, 0)).toBe(false);
  });

  it('ratio, exact at the boundary (4 of 40 is 0.1)', () => {
    expect(exceedsTolerance({ ratio: 0.1 }, 4, 40)).toBe(false);
    expect(exceedsTolerance({ ratio: 0.1 }, 5, 40)).toBe(true);
    expect(exceedsTolerance({ ratio: 0.075 }, 4, 40)).toBe(true);
    expect(exceedsTolerance({ ratio: 0 }, 1, 1000)).toBe(true);
    expect(exceedsTolerance({ ratio: 1 }, 40, 40)).toBe(false);
    expect(exceedsTolerance({ ratio: 0 }, 0, 0)).toBe(false);
  });

  it('allowedFailures is the largest tolerated count', () => {
    expect(allowedFailures({ ratio: 0.1 }, 40)).toBe(4);
    expect(allowedFailures({ ratio: 0.075 }, 40)).toBe(3);
    expect(allowedFailures({ ratio: 0.3 }, 10)).toBe(3);
    expect(allowedFailures({ ratio: 1 }, 7)).toBe(7);
    expect(allowedFailures({ ratio: 0.5 }, 0)).toBe(0);
    expect(allowedFailures({ count: 5 }, 2)).toBe(5);
    for (let total = 1; total <= 200; total++) {
      for (const ratio of [0.01, 0.05, 0.1, 0.2, 1 / 3, 0.7]) {
        const allowed = allowedFailures({ ratio }, total);
        expect(exceedsTolerance({ ratio }, allowed, total)).toBe(false);
        if (allowed < total) expect(exceedsTolerance({ ratio }, allowed + 1, total)).toBe(true);
      }
    }
  });

  it('messages name the map, the failed keys and the tolerance', () => {
    expect(toleranceMessage('keys', { count: 3 }, 4, 40)).toBe(
      'map over "keys": 4 of 40 keys failed, more than its toleratedFailures { count: 3 } allows (at most 3)',
    );
    expect(toleranceMessage('inner[a]', { ratio: 0.5 }, 1, 1)).toBe(
      'map over "inner[a]": 1 of 1 key failed, more than its toleratedFailures { ratio: 0.5 } allows (at most 0)',
    );
    expect(toleranceMessage('keys', { ratio: 0.1 }, 4, 40)).toBe(
      'map over "keys": 4 of 40 keys failed, within its toleratedFailures { ratio: 0.1 } (at most 4)',
    );
  });
});
