import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicOut, DynamicOutput, job, op } from '../../src/index.ts';
import { TemporalHarness } from './harness.ts';

const MB = 1024 * 1024;

const produceBig = op({ name: 'produce_big' }, async () => 'a'.repeat(50 * MB));
const measure = op({ name: 'measure' }, async (_ctx, text: string) => text.length);
const bigJob = job({ name: 'big_value' }, () => {
  measure(produceBig());
});

const bigItems = op({ name: 'big_items', out: new DynamicOut<number[]>() }, async function* () {
  for (let k = 0; k < 3; k++)
    yield new DynamicOutput(
      Array.from({ length: 100_000 }, (_, i) => i + k),
      String(k),
    );
});
const sumItem = op({ name: 'sum_item' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const collectBig = op({ name: 'collect_big' }, async (_ctx, arrays: number[][]) => arrays.map((a) => a.length));
const bigFanOut = job({ name: 'big_items_job' }, () => {
  const items = bigItems();
  items.map(sumItem);
  collectBig(items.collect());
});

const hundredThousand = op({ name: 'hundred_thousand', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 100_000; i++) yield new DynamicOutput(i, String(i));
});
const countAndSum = op({ name: 'count_and_sum' }, async (_ctx, xs: number[]) => [xs.length, xs.reduce((a, b) => a + b, 0)]);
const collectHundredThousand = job({ name: 'collect_100k' }, () => {
  countAndSum(hundredThousand().collect());
});

describe('large values travel through the store, never through Temporal', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await TemporalHarness.connect();
  });
  afterAll(async () => harness?.close());

  it('passes a 50 MB op output to the next op; the job history stays small', async () => {
    const { run, result } = await harness.runWithHandle(bigJob);
    expect(result.success).toBe(true);
    expect(await result.outputFor('measure')).toBe(50 * MB);
    expect(((await result.outputFor('produce_big')) as string).length).toBe(50 * MB);
    const description = await run.handle.describe();
    expect(description.historySize).toBeLessThan(64 * 1024);
  }, 120_000);

  it('collects 100,000 items: the fan-out list is stored and the collect is loaded by the consuming op', async () => {
    const { run, result } = await harness.runWithHandle(collectHundredThousand);
    expect(result.success).toBe(true);
    expect(await result.outputFor('count_and_sum')).toEqual([100_000, (100_000 * 99_999) / 2]);
    expect((await run.handle.describe()).historySize).toBeLessThan(64 * 1024);
  }, 120_000);

  it('maps and collects items over the threshold as references', async () => {
    const { run, result } = await harness.runWithHandle(bigFanOut);
    expect(result.success).toBe(true);
    const n = 100_000;
    const base = (n * (n - 1)) / 2;
    expect([...((await result.outputFor('sum_item')) as Map<string, number>)]).toEqual([
      ['0', base],
      ['1', base + n],
      ['2', base + 2 * n],
    ]);
    expect(await result.outputFor('collect_big')).toEqual([n, n, n]);
    expect((await run.handle.describe()).historySize).toBeLessThan(64 * 1024);
  }, 120_000);
});
