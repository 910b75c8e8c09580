/**
 * Port of the Dagster guide's "Advanced mapping examples": shared/seeds/dagster-dynamic-graphs-guide.txt
 * (and the older variant, dagster-dynamic-graphs-guide-older.txt). The helper ops (`one`, `add`, `echo`,
 * `process`, `dynamic_values`) and `get_pages()` are the ones the guide's snippet file defines.
 *
 * - return_dynamic_job: an op that *returns* a list of DynamicOutput          → {"1": "foo"}
 * - chained / chained_alt: three echos per key, then a sum of the collect      → process = 1
 * - other_arg: a static value (`one()`) passed alongside each item             → add = {num_0: 1, num_1: 2}
 * - multiple: one op with two dynamic outputs, unpacked by position and by name → 1, -1, 1, -1
 */
import { DynamicOut, DynamicOutput, type Handle, job, op } from 'opgraph';

export const one = op({ name: 'one' }, async () => 1);

export const add = op({ name: 'add' }, async (_ctx, a: number, b: number) => a + b);

export const echo = op({ name: 'echo' }, async (_ctx, x: number) => x);

/** Python's sum() of the collected list. */
/** Named `processOp` here so it does not shadow Node's `process` global; the op is `process`. */
export const processOp = op({ name: 'process' }, async (_ctx, results: number[]) => results.reduce((acc, x) => acc + x, 0));

export const dynamicValues = op({ name: 'dynamic_values', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 2; i++) {
    yield new DynamicOutput(i, { mappingKey: `num_${i}` });
  }
});

// ---------------------------------------------------------------------------------------------
// Returning dynamic outputs: "DynamicOutput objects can also be returned as part of a list."

/** The guide's stand-in page source: one page, "foo", under index "1". */
export function getPages(): [string, string][] {
  return [['1', 'foo']];
}

export const returnDynamic = op({ name: 'return_dynamic', out: new DynamicOut<string>() }, async (): Promise<DynamicOutput<string>[]> => {
  const outputs: DynamicOutput<string>[] = [];
  for (const [idx, pageKey] of getPages()) {
    outputs.push(new DynamicOutput(pageKey, { mappingKey: idx }));
  }
  return outputs;
});

/** The guide shows `return_dynamic` on its own; this job runs it so its output can be inspected. */
export const returnDynamicJob = job({ name: 'return_dynamic_job' }, () => {
  returnDynamic();
});

// ---------------------------------------------------------------------------------------------
// Chaining: "The following two examples are equivalent ways to establish a sequence of ops that
// occur for each dynamic output."

export const chained = job({ name: 'chained' }, () => {
  const results = dynamicValues().map(echo).map(echo).map(echo);
  processOp(results.collect());
});

export const chainedAlt = job({ name: 'chained_alt' }, () => {
  const forEach = (val: Handle<number>) => {
    const a = echo(val);
    const b = echo(a);
    return echo(b);
  };
  const results = dynamicValues().map(forEach);
  processOp(results.collect());
});

// ---------------------------------------------------------------------------------------------
// Additional arguments: "A lambda or scoped function can be used to pass non-dynamic outputs along
// side dynamic ones in map downstream."

export const otherArg = job({ name: 'other_arg' }, () => {
  const nonDynamic = one();
  dynamicValues().map((val) => add(val, nonDynamic));
});

// ---------------------------------------------------------------------------------------------
// Multiple outputs: "Multiple outputs are returned via a namedtuple, where each entry can be used
// via map or collect."

export const multipleDynamicValues = op(
  {
    name: 'multiple_dynamic_values',
    out: {
      values: new DynamicOut<number>(),
      negatives: new DynamicOut<number>(),
    },
  },
  async function* () {
    for (let i = 0; i < 2; i++) {
      yield new DynamicOutput(i, { outputName: 'values', mappingKey: `num_${i}` });
      yield new DynamicOutput(-i, { outputName: 'negatives', mappingKey: `neg_${i}` });
    }
  },
);

export const multiple = job({ name: 'multiple' }, () => {
  // can unpack on assignment (order based)
  const [values, negatives] = multipleDynamicValues();
  processOp(values.collect());
  processOp(negatives.map(echo).collect()); // can use map or collect as usual

  // or access by name
  const outs = multipleDynamicValues();
  processOp(outs.values.collect());
  processOp(outs.negatives.map(echo).collect());
});

export const guideAdvancedJobs = [returnDynamicJob, chained, chainedAlt, otherArg, multiple];
