/**
 * The README's "Writing your own job" example: op config, a DynamicOut, input schemas, a retry
 * policy, several outputs with an optional one, a graph, auto-aliases and job-level op defaults.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Definitions, DynamicOut, DynamicOutput, graph, In, job, op, Out, Output, RetryPolicy } from 'opgraph';

// Op config, checked against run config before a run starts: ctx.opConfig is typed from the schema.
export const listFiles = op(
  { name: 'list_files', out: new DynamicOut<string>(), config: z.object({ dir: z.string() }) },
  async function* (ctx) {
    const files = (await readdir(ctx.opConfig.dir)).sort();
    // Mapping keys must match ^[A-Za-z0-9_]+$ and be unique: `a.b.json` and `a_b.json` both clean to `a_b_json`.
    for (const [i, file] of files.entries()) {
      yield new DynamicOutput(join(ctx.opConfig.dir, file), `f${i}_${file.replace(/[^A-Za-z0-9_]/g, '_')}`);
    }
  },
);

// Inputs are positional after ctx; schemas (In or a zod schema) are checked at run time, and a body whose
// parameter cannot take what its schema produces (path: number here) does not compile.
export const size = op(
  {
    name: 'size',
    ins: { path: new In({ schema: z.string() }) },
    retryPolicy: new RetryPolicy({ maxRetries: 3, delay: 1, backoff: 'exponential' }),
  },
  async (_ctx, path: string) => (await stat(path)).size,
);

// Several outputs, one optional: consumers of an output that is not produced are SKIPPED.
export const split = op(
  { name: 'split', out: { small: new Out<number[]>(), large: new Out<number[]>({ isRequired: false }) } },
  async function* (_ctx, sizes: number[]) {
    yield new Output(
      sizes.filter((s) => s < 1000),
      { outputName: 'small' },
    );
    const large = sizes.filter((s) => s >= 1000);
    if (large.length > 0) yield new Output(large, { outputName: 'large' });
  },
);
export const total = op({ name: 'total' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));

// A graph is a reusable composite; its nodes get ids like `sizes.size`.
export const sizes = graph({ name: 'sizes' }, () => listFiles().map(size).collect());

export const diskUsage = job({ name: 'disk_usage', opTimeouts: { heartbeat: '30s' } }, () => {
  const { small, large } = split(sizes());
  total(small);
  total(large); // auto-aliased total_2; SKIPPED when there are no large files
});
export const defs = new Definitions({ jobs: [diskUsage] });
