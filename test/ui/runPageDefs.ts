/** The job of test/ui/runPage.test.ts, in a definitions module so `opgraph graph -m` can load it too. */
import { Definitions, DynamicOut, DynamicOutput, job, op, RetryPolicy } from '../../src/dsl/index.ts';

/** Keys held by `rp_work` until the test releases them. */
export let release: () => void = () => {};
const released = new Promise<void>((resolve) => (release = resolve));

const prepare = op({ name: 'rp_prepare' }, async (ctx) => {
  ctx.log.info('preparing 6 pieces');
  return 6;
});
const fan = op({ name: 'rp_fan', out: new DynamicOut<number>() }, async function* (ctx, n: number) {
  for (let i = 0; i < n; i++) yield new DynamicOutput(i, { mappingKey: String(i) });
  ctx.log.info(`yielded ${n} keys`);
});
const work = op({ name: 'rp_work', retryPolicy: new RetryPolicy({ maxRetries: 1, delay: 0.2 }) }, async (ctx, i: number) => {
  ctx.log.info(`working on piece ${i}`, { attempt: ctx.attempt });
  if (i === 5) throw new RangeError(`piece ${i} is out of range`);
  if (i === 3 && ctx.attempt === 1) {
    ctx.log.warn('flaky piece, failing the first attempt');
    throw new Error('transient failure of piece 3');
  }
  if (i >= 2) await released;
  ctx.log.info(`piece ${i} done`);
  return i * 10;
});
const total = op({ name: 'rp_total' }, async (_ctx, values: number[]) => values.reduce((a, b) => a + b, 0));
export const runPageJob = job({ name: 'run_page_demo' }, () => {
  total(fan(prepare()).map(work).collect());
});

const other = op({ name: 'rp_other' }, async () => 1);
const otherJob = job({ name: 'other_job' }, () => {
  other();
});

export const defs = new Definitions({ jobs: [runPageJob, otherJob] });
