/** The benchmark jobs: N trivial keys (fan-out → x+1 → sum), in each fan-out mode. */
import { z } from 'zod';
import { DynamicOut, DynamicOutput, job, op } from '../src/index.ts';
import type { DimensionOptions } from '../src/dsl/plan.ts';

const Keys = z.object({ n: z.number().int().positive() });

const emit = op({ name: 'bench_emit', out: new DynamicOut<number>(), config: Keys }, async function* (ctx) {
  for (let i = 0; i < ctx.opConfig.n; i++) yield new DynamicOutput(i, String(i));
});
const increment = op({ name: 'bench_increment' }, async (_ctx, x: number) => x + 1);
const sum = op({ name: 'bench_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));

export function fanOutJob(name: string, options: DimensionOptions) {
  return job({ name }, () => {
    sum(emit().map(increment, options).collect());
  });
}

export const keysConfig = (n: number) => ({ ops: { bench_emit: { config: { n } } } });
/** Σ (i + 1) for i < n. */
export const expectedSum = (n: number) => (n * (n + 1)) / 2;
