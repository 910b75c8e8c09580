/**
 * Tolerated failures per map (`.map(fn, { toleratedFailures })`) on a real Temporal server: 40 keys
 * of which exactly 4 fail (k3, k13, k23, k33; no retries), with the tolerance just at and just under
 * that, in its count and ratio forms, in every mode; a nested map; a sharded one. Within the
 * tolerance the run succeeds, the collect gets the 36 other values in yield order and the result
 * lists the failed keys; over it, the run fails as without the option, naming the map.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { reexecute } from '../../src/client/reexecute.ts';
import { runJob } from '../../src/client/run.ts';
import type { JobResult } from '../../src/client/result.ts';
import { resultLines } from '../../src/cli/summary.ts';
import type { DimensionOptions, FanOutMode } from '../../src/dsl/plan.ts';
import { DynamicOut, DynamicOutput, type JobDefinition, op } from '../../src/index.ts';
import { fileWideWorker } from './harness.ts';

const KEYS = 40;
const FAILING = ['k3', 'k13', 'k23', 'k33'];
/** Yield order k0…k39 (not the keys' sorted order: k10 before k2 there). */
const SUCCEEDING = Array.from({ length: KEYS }, (_, i) => i).filter((i) => !FAILING.includes(`k${i}`));

const fan = op({ name: 'tol_fan', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < KEYS; i++) yield new DynamicOutput(i, `k${i}`);
});
const square = op({ name: 'tol_square' }, async (_ctx, x: number) => {
  if (x % 10 === 3) throw new RangeError(`item ${x} is out of range`);
  return x * x;
});
const plusOne = op({ name: 'tol_plus_one' }, async (_ctx, x: number) => x + 1);
const list = op({ name: 'tol_list' }, async (_ctx, xs: number[]) => xs);
const lists = op({ name: 'tol_lists' }, async (_ctx, xs: number[][]) => xs);
const innerFan = op({ name: 'tol_inner_fan', out: new DynamicOut<number>() }, async function* (_ctx, x: number) {
  for (let j = 0; j < 5; j++) yield new DynamicOutput(x * 10 + j, `j${j}`);
});

const suite = fileWideWorker();

type Tolerance = NonNullable<DimensionOptions['toleratedFailures']>;
const tolerances: [string, Tolerance, boolean][] = [
  ['count 4', { count: 4 }, true],
  ['count 3', { count: 3 }, false],
  ['ratio 0.1', { ratio: 0.1 }, true],
  ['ratio 0.075', { ratio: 0.075 }, false],
];
const modes: FanOutMode[] = ['child', 'activity', 'batch'];

/** fan → square (fails for 4 keys) → plus_one (a chained map: per key) → list(collect). */
const jobs = new Map<string, JobDefinition>();
for (const mode of modes) {
  tolerances.forEach(([, toleratedFailures], t) => {
    const name = `tolerated_${mode}_${t}`;
    jobs.set(
      name,
      suite.define(name, () => {
        const squares = fan().map(square, { mode, toleratedFailures, ...(mode === 'batch' ? { batchSize: 6 } : {}) });
        list(squares.map(plusOne).collect());
      }),
    );
  });
}

const outerFan = op({ name: 'tol_outer_fan', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 4; i++) yield new DynamicOutput(i, `o${i}`);
});
/** Inner values x*10+j: every outer key has one failing inner key (j3), outer key o2 a second one (j1). */
const innerSquare = op({ name: 'tol_inner_square' }, async (_ctx, v: number) => {
  if (v % 10 === 3 || v === 21) throw new Error(`inner value ${v} fails`);
  return v * v;
});

/** Each outer key tolerates one failed inner key; the outer map tolerates one failed outer key (o2: two inner failures). */
const nested = suite.define('tolerated_nested', () => {
  const perKey = outerFan().map(
    (x) =>
      list.alias('per_key')(
        innerFan(x)
          .map(innerSquare, { toleratedFailures: { count: 1 } })
          .collect(),
      ),
    { toleratedFailures: { count: 1 } },
  );
  lists(perKey.collect());
});

const sharded = suite.define('tolerated_sharded', () => {
  list(
    fan()
      .map(square, { mode: 'activity', shardSize: 8, toleratedFailures: { ratio: 0.1 } })
      .collect(),
  );
});

function run(definition: JobDefinition): Promise<JobResult> {
  return runJob(suite.harness.client, definition, { taskQueue: suite.taskQueue });
}

describe('toleratedFailures: 4 of 40 keys fail', () => {
  for (const mode of modes) {
    tolerances.forEach(([label, tolerance, within], t) => {
      it(`${mode} mode, ${label}: ${within ? 'tolerated, the collect gets the 36 others' : 'over it, the run fails naming the map'}`, async () => {
        const definition = jobs.get(`tolerated_${mode}_${t}`);
        if (!definition) throw new Error('job not defined');
        const result = await run(definition);
        expect(result.stepStatus('tol_square[k3]')).toBe('FAILURE');
        expect(result.stepStatus('tol_plus_one[k3]')).toBe('ABANDONED');
        if (within) {
          expect(result.success).toBe(true);
          expect(result.failures).toEqual([]);
          expect(await result.outputFor('tol_list')).toEqual(SUCCEEDING.map((i) => i * i + 1));
          expect(result.toleranceExceeded).toEqual([]);
          expect(result.toleratedFailures).toHaveLength(1);
          const [map] = result.toleratedFailures;
          expect(map).toMatchObject({
            map: 'tol_fan',
            node: 'tol_fan',
            output: 'result',
            outerKeys: [],
            tolerance,
            keys: 40,
            exceeded: false,
          });
          expect(map?.failedKeys.map((k) => k.key)).toEqual(FAILING);
          expect(map?.failedKeys[1]?.failures).toEqual([
            {
              stepKey: 'tol_square[k13]',
              type: 'OpUserError',
              errorClass: 'RangeError',
              message: expect.stringContaining('item 13 is out of range'),
            },
          ]);
          expect(map?.message).toBe(
            `map over "tol_fan": 4 of 40 keys failed, within its toleratedFailures ${label === 'count 4' ? '{ count: 4 }' : '{ ratio: 0.1 }'} (at most 4)`,
          );
          const lines = await resultLines(result);
          expect(lines[0]).toContain('SUCCEEDED');
          expect(lines).toContain(`Tolerated failures: ${map?.message}:`);
          expect(lines.some((l) => l.startsWith('  k3: tol_square[k3]: OpUserError: '))).toBe(true);
        } else {
          expect(result.success).toBe(false);
          expect(result.failures.map((f) => f.stepKey)).toEqual(FAILING.map((k) => `tol_square[${k}]`));
          expect(result.stepStatus('tol_list')).toBe('ABANDONED');
          const message = `map over "tol_fan": 4 of 40 keys failed, more than its toleratedFailures ${label === 'count 3' ? '{ count: 3 }' : '{ ratio: 0.075 }'} allows (at most 3)`;
          expect(result.steps().tol_list?.error?.message).toContain(message);
          expect(result.toleratedFailures).toEqual([]);
          expect(result.toleranceExceeded.map((m) => m.message)).toEqual([message]);
          const lines = await resultLines(result);
          expect(lines[0]).toContain('FAILED');
          expect(lines).toContain(`Over tolerance: ${message}; failed keys k3, k13, k23, k33`);
        }
      });
    });
  }
});

describe('toleratedFailures in nested and sharded maps', () => {
  it('nested: the inner tolerance applies per outer key; an outer key over it is a failed key of the outer map', async () => {
    const result = await run(nested);
    expect(result.success).toBe(true);
    expect(result.failures).toEqual([]);
    expect(result.toleratedFailures.map((m) => [m.map, m.keys, m.failedKeys.map((k) => k.key)])).toEqual([
      ['tol_outer_fan', 4, ['o2']],
      ['tol_inner_fan[o0]', 5, ['j3']],
      ['tol_inner_fan[o1]', 5, ['j3']],
      ['tol_inner_fan[o3]', 5, ['j3']],
    ]);
    // o2's inner map was over its tolerance (its collect consumer abandoned); the outer map tolerated o2.
    expect(result.toleranceExceeded.map((m) => m.message)).toEqual([
      'map over "tol_inner_fan[o2]": 2 of 5 keys failed, more than its toleratedFailures { count: 1 } allows (at most 1)',
    ]);
    expect(result.toleratedFailures[0]?.failedKeys[0]?.failures.map((f) => f.stepKey)).toEqual([
      'tol_inner_square[o2,j1]',
      'tol_inner_square[o2,j3]',
    ]);
    expect(result.stepStatus('per_key[o2]')).toBe('ABANDONED');
    expect(result.stepStatus('tol_inner_square[o1,j3]')).toBe('FAILURE');
    const perKey = (await result.outputFor('per_key')) as Map<string, number[]>;
    expect(perKey.get('o1')).toEqual([10, 11, 12, 14].map((v) => v * v));
    expect(await result.outputFor('tol_lists')).toEqual([0, 1, 3].map((x) => [0, 1, 2, 4].map((j) => (x * 10 + j) ** 2)));
  });

  it('sharded (shards of 8 keys): the lazy collect skips the failed keys; the listing comes from the stored records', async () => {
    const result = await run(sharded);
    expect(result.success).toBe(true);
    expect(result.failures).toEqual([]);
    expect(await result.outputFor('tol_list')).toEqual(SUCCEEDING.map((i) => i * i));
    expect(result.toleratedFailures.map((m) => [m.map, m.keys, m.failedKeys.map((k) => k.key)])).toEqual([['tol_fan', 40, FAILING]]);
    // It did shard: 40 keys in shard workflows of 8.
    const shard = await suite.harness.client.workflow.getHandle(`${result.workflowId}/tol_fan[shard_4]`).describe();
    expect(shard.status.name).toBe('COMPLETED');
  });

  it('a run that succeeded with tolerated failures re-executes from failure: the failed keys and the collect consumer run again', async () => {
    const definition = jobs.get('tolerated_activity_0');
    if (!definition) throw new Error('job not defined');
    const parent = await run(definition);
    expect(parent.success).toBe(true);
    const again = await reexecute(suite.harness.client, parent.workflowId, { fromFailure: true, taskQueue: suite.taskQueue });
    expect(again.success).toBe(true);
    // The 4 failed keys ran again (and failed again, tolerated again), and so did the collect's consumer, which
    // read them; every other succeeded step was taken over.
    expect(again.ranStepKeys().sort()).toEqual(
      FAILING.flatMap((k) => [`tol_plus_one[${k}]`, `tol_square[${k}]`])
        .concat('tol_list')
        .sort(),
    );
    expect(again.toleratedFailures[0]?.failedKeys.map((k) => k.key)).toEqual(FAILING);
    expect(await again.outputFor('tol_list')).toEqual(SUCCEEDING.map((i) => i * i + 1));
  });

  it('over the tolerance, the workflow’s own failure names the map too', async () => {
    const definition = jobs.get('tolerated_activity_1');
    if (!definition) throw new Error('job not defined');
    const handle = await suite.harness.client.workflow.start(definition.name, {
      taskQueue: suite.taskQueue,
      workflowId: `tolerated-message-${Date.now()}`,
      args: [],
    });
    const error = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause?.message).toContain(
      'map over "tol_fan": 4 of 40 keys failed, more than its toleratedFailures { count: 3 } allows (at most 3)',
    );
  });
});
