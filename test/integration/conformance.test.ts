/**
 * Runtime conformance with Dagster's dynamic-graph semantics (reference/dagster-semantics.md
 * §1, §3, §4, §6), one small purpose-built job per rule, on the suite's real Temporal server.
 * Ops run in this process (the harness's worker), so they record what they saw in module state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  DynamicOut,
  DynamicOutput,
  graph,
  type Handle,
  type JobDefinition,
  type JobResult,
  op,
  Out,
  Output,
  OutputNotFoundError,
  RetryPolicy,
  type RunConfig,
  runJob,
} from 'opgraph';
import { fileWideWorker } from './harness.ts';

// One worker serves every job of this file (defined at module level, collected below) for the
// whole file, so each test pays for a run, not for a worker start.
const suite = fileWideWorker();
const conformanceJob = (name: string, body: () => unknown): JobDefinition => suite.define(name, body);

function run(definition: JobDefinition, runConfig?: RunConfig): Promise<JobResult> {
  return runJob(suite.harness.client, definition, { taskQueue: suite.taskQueue, ...(runConfig ? { runConfig } : {}) });
}

/** Runs `fn` once, on first use, for the tests that inspect the same run. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= fn());
}

function clonesOf(result: JobResult): string[] {
  return Object.keys(result.stepStatuses()).filter((k) => k.includes('['));
}

// ─── shared ops ──────────────────────────────────────────────────────────────────────────────

const threeKeys = op({ name: 'three_keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a');
  yield new DynamicOutput(2, 'b');
  yield new DynamicOutput(3, 'c');
});
const one = op({ name: 'one' }, async () => 1);
const double = op({ name: 'double' }, async (_ctx, x: number) => x * 2);
const plusOne = op({ name: 'plus_one' }, async (_ctx, x: number) => x + 1);
const listAll = op({ name: 'list_all' }, async (_ctx, xs: number[]) => xs);
const sumAll = op({ name: 'sum_all' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));

// ─── ordering ────────────────────────────────────────────────────────────────────────────────

const finishOrder: string[] = [];
const unorderedKeys = op({ name: 'unordered_keys', out: new DynamicOut<number>() }, async function* () {
  // Yield order b, a, c (not sorted); each value is how long that clone sleeps.
  yield new DynamicOutput(250, 'b');
  yield new DynamicOutput(0, 'a');
  yield new DynamicOutput(120, 'c');
});
const sleepThenTag = op({ name: 'sleep_then_tag' }, async (ctx, ms: number) => {
  await sleep(ms);
  finishOrder.push(ctx.getMappingKey() ?? '?');
  return `${ctx.getMappingKey()}:${ms}`;
});
const gatherTags = op({ name: 'gather_tags' }, async (_ctx, tags: string[]) => tags);
const collectOrder = conformanceJob('conformance_collect_order', () => {
  gatherTags(unorderedKeys().map(sleepThenTag).collect());
});
const collectOrderRun = once(() => run(collectOrder));

describe('ordering (§3)', () => {
  it('collect keeps yield order (b, a, c), not key order and not the order clones finish in', async () => {
    const result = await collectOrderRun();
    expect(result.success).toBe(true);
    expect(finishOrder).toEqual(['a', 'c', 'b']);
    expect(await result.outputFor('gather_tags')).toEqual(['b:250', 'a:0', 'c:120']);
  });

  it('outputFor of a mapped node returns a Map of mappingKey → value in yield order', async () => {
    const result = await collectOrderRun();
    const tags = (await result.outputFor('sleep_then_tag')) as Map<string, string>;
    expect(tags).toBeInstanceOf(Map);
    expect(tags.get('a')).toBe('a:0');
    expect([...tags]).toEqual([
      ['b', 'b:250'],
      ['a', 'a:0'],
      ['c', 'c:120'],
    ]);
    // The fan-out op's own dynamic output reads the same way.
    expect([...((await result.outputFor('unordered_keys')) as Map<string, number>)]).toEqual([
      ['b', 250],
      ['a', 0],
      ['c', 120],
    ]);
    expect(result.stepKeysOf('sleep_then_tag')).toEqual(['sleep_then_tag[b]', 'sleep_then_tag[a]', 'sleep_then_tag[c]']);
  });
});

// Integer-like keys yielded out of numeric order: a plain object would list them "0", "1", "2"…
const NUMERIC_KEYS = ['10', '2', '1', '30', '0', '7', '21', '3'];
const INNER_NUMERIC_KEYS = ['3', '20', '1'];
const numericKeys = op({ name: 'numeric_keys', out: new DynamicOut<number>() }, async function* () {
  for (const key of NUMERIC_KEYS) yield new DynamicOutput(Number(key), key);
});
const innerNumericKeys = op({ name: 'inner_numeric_keys', out: new DynamicOut<number>() }, async function* (_ctx, outer: number) {
  for (const key of INNER_NUMERIC_KEYS) yield new DynamicOutput(outer * 100 + Number(key), key);
});
type Mode = 'child' | 'activity' | 'batch';
const MODES: readonly Mode[] = ['child', 'activity', 'batch'];
const mapOptions = (mode: Mode, sharded: boolean) => ({
  mode,
  ...(mode === 'batch' ? { batchSize: 2 } : {}),
  // 8 keys in shards of 3: three shard workflows.
  ...(sharded ? { shardSize: 3 } : {}),
});
const numericOrderJobs = Object.fromEntries(
  MODES.flatMap((mode) =>
    [false, true].map((sharded) => {
      const name = `conformance_numeric_keys_${mode}${sharded ? '_sharded' : ''}`;
      return [name, conformanceJob(name, () => listAll(numericKeys().map(double, mapOptions(mode, sharded)).collect()))] as const;
    }),
  ),
);
const nestedNumericJobs = Object.fromEntries(
  MODES.map((mode) => {
    const name = `conformance_numeric_keys_nested_${mode}`;
    return [
      name,
      conformanceJob(name, () => {
        const perOuter = numericKeys().map((o) => sumAll(innerNumericKeys(o).map(double, mapOptions(mode, false)).collect()), {
          mode,
          ...(mode === 'batch' ? { batchSize: 2 } : {}),
        });
        listAll(perOuter.collect());
      }),
    ] as const;
  }),
);

describe('ordering (§3): outputFor keeps yield order for integer-like mapping keys', () => {
  const expectedNumeric = NUMERIC_KEYS.map((k) => [k, Number(k) * 2]);

  it.each(MODES.flatMap((mode) => [false, true].map((sharded) => [mode, sharded] as const)))(
    '%s mode (sharded: %s): keys "10", "2", "1", … come back as yielded, from the fan-out, the mapped node and the collect',
    async (mode, sharded) => {
      const definition = numericOrderJobs[`conformance_numeric_keys_${mode}${sharded ? '_sharded' : ''}`] as JobDefinition;
      const result = await run(definition);
      expect(result.failures).toEqual([]);
      const doubled = (await result.outputFor('double')) as Map<string, number>;
      expect(doubled).toBeInstanceOf(Map);
      expect([...doubled]).toEqual(expectedNumeric);
      expect(doubled.get('10')).toBe(20);
      expect([...((await result.outputFor('numeric_keys')) as Map<string, number>)]).toEqual(NUMERIC_KEYS.map((k) => [k, Number(k)]));
      expect(await result.outputFor('list_all')).toEqual(NUMERIC_KEYS.map((k) => Number(k) * 2));
      expect(result.stepKeysOf('double')).toEqual(NUMERIC_KEYS.map((k) => `double[${k}]`));
      if (sharded) {
        const history = await suite.harness.client.workflow.getHandle(`${definition.name}-${result.runId}`).fetchHistory();
        const children = (history.events ?? []).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
        expect(children.filter((id) => id.includes('[shard_'))).toHaveLength(3);
      }
    },
  );

  it.each(MODES)('%s mode, nested: a doubly-mapped node is a Map keyed by the joined key "outer,inner" in yield order', async (mode) => {
    const result = await run(nestedNumericJobs[`conformance_numeric_keys_nested_${mode}`] as JobDefinition);
    expect(result.failures).toEqual([]);
    const joined = NUMERIC_KEYS.flatMap((o) => INNER_NUMERIC_KEYS.map((i) => [`${o},${i}`, (Number(o) * 100 + Number(i)) * 2] as const));
    expect([...((await result.outputFor('double')) as Map<string, number>)]).toEqual(joined);
    // The dynamic output of the mapped fan-out op: item "20" of outer key "2" is under "2,20".
    const items = (await result.outputFor('inner_numeric_keys')) as Map<string, number>;
    expect([...items.keys()]).toEqual(joined.map(([k]) => k));
    expect(items.get('2,20')).toBe(220);
    const sums = (await result.outputFor('sum_all')) as Map<string, number>;
    expect([...sums.keys()]).toEqual(NUMERIC_KEYS);
    expect(sums.get('10')).toBe((1003 + 1020 + 1001) * 2);
    expect(await result.outputFor('list_all')).toEqual([...sums.values()]);
    expect(result.stepKeysOf('double').slice(0, 4)).toEqual(['double[10,3]', 'double[10,20]', 'double[10,1]', 'double[2,3]']);
  });
});

// ─── zero items (§1.7) ───────────────────────────────────────────────────────────────────────

const noItems = op({ name: 'no_items', out: new DynamicOut<number>() }, async function* () {});
const noOptionalItems = op({ name: 'no_optional_items', out: new DynamicOut<number>({ isRequired: false }) }, async function* () {});

const zeroRequired = conformanceJob('conformance_zero_required', () => {
  const empty = noItems();
  const total = sumAll(empty.map(double).collect());
  plusOne(total);
  listAll(empty.collect());
});
const zeroOptional = conformanceJob('conformance_zero_optional', () => {
  const empty = noOptionalItems();
  plusOne(sumAll(empty.map(double).collect()));
  listAll(empty.collect());
});
describe('zero items (§1.7)', () => {
  it('required DynamicOut with zero items: no mapped steps, the collect consumer runs with []', async () => {
    const result = await run(zeroRequired);
    expect(result.success).toBe(true);
    expect(result.stepStatuses()).toEqual({ no_items: 'SUCCESS', sum_all: 'SUCCESS', plus_one: 'SUCCESS', list_all: 'SUCCESS' });
    expect(await result.outputFor('sum_all')).toBe(0);
    expect(await result.outputFor('plus_one')).toBe(1);
    expect(await result.outputFor('list_all')).toEqual([]);
  });

  it('outputFor of a required DynamicOut that yielded nothing, or of its absent clones, throws "No outputs found" (test_basic_dynamic_output_empty)', async () => {
    const result = await run(zeroRequired);
    expect(result.success).toBe(true);
    await expect(result.outputFor('no_items')).rejects.toThrow(OutputNotFoundError);
    await expect(result.outputFor('no_items')).rejects.toThrow(
      /^No outputs found for output 'result' from node 'no_items' in run .* \(the step succeeded and yielded no items for this dynamic output\)\.$/,
    );
    await expect(result.outputFor('double')).rejects.toThrow(
      /No outputs found for output 'result' from node 'double' .*no step of this node ran: it is mapped over a dynamic output that produced no items/,
    );
    const error = await result.outputFor('no_items').catch((err: unknown) => err);
    expect(error).toMatchObject({ name: 'OutputNotFoundError', node: 'no_items', output: 'result' });
    // A node or output the job does not have is a different mistake.
    await expect(result.outputFor('no_such_node')).rejects.toThrow(/job "conformance_zero_required" has no node "no_such_node"/);
    await expect(result.outputFor('no_items', 'other')).rejects.toThrow(/node "no_items" .* has no output "other"; its outputs: result/);
  });

  it('isRequired: false with zero items: the collect consumer and its descendants are SKIPPED', async () => {
    const result = await run(zeroOptional);
    expect(result.success).toBe(true);
    expect(result.stepStatuses()).toEqual({
      no_optional_items: 'SUCCESS',
      sum_all: 'SKIPPED',
      plus_one: 'SKIPPED',
      list_all: 'SKIPPED',
    });
  });
});

// ─── nested fan-out ops (used by §6 and the nested tests) ─────────────────────────────────────

const innerKeysSeen: Record<string, string | null> = {};
const outerKeys = op({ name: 'outer_keys', out: new DynamicOut<string>() }, async function* () {
  yield new DynamicOutput('A', 'a');
  yield new DynamicOutput('B', 'b');
});
const innerKeys = op({ name: 'inner_keys', out: new DynamicOut<string>() }, async function* (_ctx, prefix: string) {
  // Not sorted, to show inner yield order is kept too.
  for (const k of ['y', 'x', 'z']) yield new DynamicOutput(`${prefix}${k}`, k);
});
const innerOp = op({ name: 'inner_op' }, async (ctx, v: string) => {
  innerKeysSeen[ctx.stepKey] = ctx.getMappingKey() ?? null;
  return `${v}@${ctx.mappingKeys.join(',')}`;
});
const joinInner = op({ name: 'join_inner' }, async (_ctx, vs: string[]) => vs.join('+'));
const joinOuter = op({ name: 'join_outer' }, async (_ctx, vs: string[]) => vs);

const failOnInnerX = op({ name: 'fail_on_inner_x' }, async (ctx, v: string) => {
  if (ctx.getMappingKey() === 'x') throw new Error(`inner clone ${ctx.stepKey} broke`);
  return v;
});

// ─── skip / abandon propagation (§6) ─────────────────────────────────────────────────────────

const maybe = op(
  { name: 'maybe', out: { yes: new Out<number>({ isRequired: false }), no: new Out<number>({ isRequired: false }) } },
  async function* () {
    yield new Output(5, { outputName: 'yes' });
  },
);
const failOnB = op({ name: 'fail_on_b' }, async (ctx, x: number) => {
  if (ctx.getMappingKey() === 'b') throw new Error(`boom on ${ctx.getMappingKey()}`);
  return x * 10;
});
const skipOnB = op({ name: 'skip_on_b', out: new Out<number>({ isRequired: false }) }, async function* (ctx, x: number) {
  if (ctx.getMappingKey() !== 'b') yield new Output(x * 10);
});
const skipAlways = op({ name: 'skip_always', out: new Out<number>({ isRequired: false }) }, async function* (_ctx, _x: number) {});
const failingFanOut = op({ name: 'failing_fan_out', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a');
  throw new Error('fan-out broke after one item');
});

const optionalOutput = conformanceJob('conformance_optional_output', () => {
  const outs = maybe();
  plusOne(outs.yes);
  double(plusOne.alias('after_no')(outs.no));
});
const cloneFails = conformanceJob('conformance_clone_fails', () => {
  const tens = threeKeys().map(failOnB).map(plusOne);
  double(sumAll(tens.collect()));
});
const cloneSkips = conformanceJob('conformance_clone_skips', () => {
  listAll(threeKeys().map(skipOnB).map(plusOne).collect());
});
const allSkip = conformanceJob('conformance_all_clones_skip', () => {
  plusOne(sumAll(threeKeys().map(skipAlways).collect()));
});
const fanOutFails = conformanceJob('conformance_fan_out_fails', () => {
  plusOne(sumAll(failingFanOut().map(double).collect()));
  double.alias('independent')(one());
});
const fanInSkips = conformanceJob('conformance_fan_in_skips', () => {
  const outs = maybe();
  const a = plusOne.alias('a')(outs.yes);
  const b = plusOne.alias('b')(outs.no);
  const c = double.alias('c')(outs.yes);
  listAll([a, b, c]);
  sumAll.alias('all_skipped')([b]);
});
const fanOutOf = op({ name: 'fan_out_of', out: new DynamicOut<number>() }, async function* (_ctx, n: number) {
  for (let i = 1; i <= n; i++) yield new DynamicOutput(i, `k${i}`);
});
const failsStatic = op({ name: 'fails_static' }, async (): Promise<number> => {
  throw new Error('static input broke');
});
const addTo = op({ name: 'add_to' }, async (_ctx, x: number, y: number) => x + y);
const skippedFanOut = conformanceJob('conformance_skipped_fan_out', () => {
  const empty = fanOutOf(maybe().no);
  plusOne(sumAll(empty.map(double).collect()));
  listAll(empty.collect());
});
const skippedClosure = conformanceJob('conformance_skipped_closure', () => {
  const skipped = plusOne(maybe().no);
  sumAll(
    threeKeys()
      .map((x) => addTo(x, skipped))
      .collect(),
  );
});
const failedClosure = conformanceJob('conformance_failed_closure', () => {
  const broken = failsStatic();
  sumAll(
    threeKeys()
      .map((x) => addTo(x, broken))
      .collect(),
  );
});
const nestedFailure = conformanceJob('conformance_nested_failure', () => {
  const perOuter = outerKeys().map((o) => joinInner(innerKeys(o).map(failOnInnerX).collect()));
  joinOuter(perOuter.collect());
  double(one());
});
describe('skip and abandon propagation (§6)', () => {
  it('a fan-out op that is itself SKIPPED records no mapping: its collect consumers and their descendants are SKIPPED', async () => {
    const result = await run(skippedFanOut);
    expect(result.success).toBe(true);
    expect(result.stepStatuses()).toEqual({
      maybe: 'SUCCESS',
      fan_out_of: 'SKIPPED',
      sum_all: 'SKIPPED',
      plus_one: 'SKIPPED',
      list_all: 'SKIPPED',
    });
  });

  it('clones that consume a skipped outer value are SKIPPED, and so is the collect', async () => {
    const result = await run(skippedClosure);
    expect(result.success).toBe(true);
    expect(result.stepStatuses()).toEqual({
      maybe: 'SUCCESS',
      plus_one: 'SKIPPED',
      three_keys: 'SUCCESS',
      'add_to[a]': 'SKIPPED',
      'add_to[b]': 'SKIPPED',
      'add_to[c]': 'SKIPPED',
      sum_all: 'SKIPPED',
    });
  });

  it('clones that consume a failed outer value are ABANDONED, and so is the collect', async () => {
    const result = await run(failedClosure);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      fails_static: 'FAILURE',
      three_keys: 'SUCCESS',
      'add_to[a]': 'ABANDONED',
      'add_to[b]': 'ABANDONED',
      'add_to[c]': 'ABANDONED',
      sum_all: 'ABANDONED',
    });
    expect(result.failures.map((f) => f.stepKey)).toEqual(['fails_static']);
  });

  it('nested: an inner clone failing abandons its inner collect and the outer collect; the other outer key and independent steps finish', async () => {
    const result = await run(nestedFailure);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      outer_keys: 'SUCCESS',
      join_outer: 'ABANDONED',
      one: 'SUCCESS',
      double: 'SUCCESS',
      'inner_keys[a]': 'SUCCESS',
      'join_inner[a]': 'ABANDONED',
      'fail_on_inner_x[a,y]': 'SUCCESS',
      'fail_on_inner_x[a,x]': 'FAILURE',
      'fail_on_inner_x[a,z]': 'SUCCESS',
      'inner_keys[b]': 'SUCCESS',
      'join_inner[b]': 'ABANDONED',
      'fail_on_inner_x[b,y]': 'SUCCESS',
      'fail_on_inner_x[b,x]': 'FAILURE',
      'fail_on_inner_x[b,z]': 'SUCCESS',
    });
    expect(result.failures.map((f) => f.stepKey).sort()).toEqual(['fail_on_inner_x[a,x]', 'fail_on_inner_x[b,x]']);
  });

  it('an optional output that is not produced skips its consumers, cascading; other outputs still flow', async () => {
    const result = await run(optionalOutput);
    expect(result.success).toBe(true);
    expect(result.stepStatuses()).toEqual({ maybe: 'SUCCESS', plus_one: 'SUCCESS', after_no: 'SKIPPED', double: 'SKIPPED' });
    expect(await result.outputFor('plus_one')).toBe(6);
    // Dagster's output_for_node on the output that was not produced, and on a skipped step, raises.
    expect(await result.outputFor('maybe', 'yes')).toBe(5);
    await expect(result.outputFor('maybe', 'no')).rejects.toThrow(
      /^No outputs found for output 'no' from node 'maybe' in run .*\(the step succeeded without producing this output/,
    );
    await expect(result.outputFor('after_no')).rejects.toThrow(
      /No outputs found for output 'result' from node 'after_no' .*step status: SKIPPED/,
    );
  });

  it('one clone fails: siblings SUCCESS, its same-key descendants and the collect ABANDONED, run FAILURE listing the step', async () => {
    const result = await run(cloneFails);
    expect(result.success).toBe(false);
    expect(result.status).toBe('FAILURE');
    expect(result.stepStatuses()).toEqual({
      three_keys: 'SUCCESS',
      'fail_on_b[a]': 'SUCCESS',
      'fail_on_b[b]': 'FAILURE',
      'fail_on_b[c]': 'SUCCESS',
      'plus_one[a]': 'SUCCESS',
      'plus_one[b]': 'ABANDONED',
      'plus_one[c]': 'SUCCESS',
      sum_all: 'ABANDONED',
      double: 'ABANDONED',
    });
    expect(await result.outputFor('plus_one')).toEqual(
      new Map([
        ['a', 11],
        ['c', 31],
      ]),
    );
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({ stepKey: 'fail_on_b[b]', type: 'OpUserError' });
    expect(result.failures[0]?.message).toContain('boom on b');
    expect(result.failures[0]?.message).toContain('fail_on_b[b]');
  });

  it('one clone skips (optional output not produced): the collect omits it', async () => {
    const result = await run(cloneSkips);
    expect(result.success).toBe(true);
    expect(result.stepStatuses()).toEqual({
      three_keys: 'SUCCESS',
      'skip_on_b[a]': 'SUCCESS',
      'skip_on_b[b]': 'SUCCESS',
      'skip_on_b[c]': 'SUCCESS',
      'plus_one[a]': 'SUCCESS',
      'plus_one[b]': 'SKIPPED',
      'plus_one[c]': 'SUCCESS',
      list_all: 'SUCCESS',
    });
    expect(await result.outputFor('list_all')).toEqual([11, 31]);
    expect(await result.outputFor('skip_on_b')).toEqual(
      new Map([
        ['a', 10],
        ['c', 30],
      ]),
    );
  });

  it('all clones skip: the collect consumer and its descendants are SKIPPED', async () => {
    const result = await run(allSkip);
    expect(result.success).toBe(true);
    expect(result.stepStatuses()).toEqual({
      three_keys: 'SUCCESS',
      'skip_always[a]': 'SUCCESS',
      'skip_always[b]': 'SUCCESS',
      'skip_always[c]': 'SUCCESS',
      sum_all: 'SKIPPED',
      plus_one: 'SKIPPED',
    });
  });

  it('the fan-out op fails: no clones at all, the collect ABANDONED, an independent branch still runs', async () => {
    const result = await run(fanOutFails);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      failing_fan_out: 'FAILURE',
      sum_all: 'ABANDONED',
      plus_one: 'ABANDONED',
      one: 'SUCCESS',
      independent: 'SUCCESS',
    });
    expect(await result.outputFor('independent')).toBe(2);
    expect(result.failures.map((f) => f.stepKey)).toEqual(['failing_fan_out']);
    expect(result.failures[0]?.message).toContain('fan-out broke after one item');
  });

  it('a static fan-in list drops skipped entries: total([a, b, c]) with b skipped gets [a, c]', async () => {
    const result = await run(fanInSkips);
    expect(result.success).toBe(true);
    expect(result.stepStatuses()).toEqual({
      maybe: 'SUCCESS',
      a: 'SUCCESS',
      b: 'SKIPPED',
      c: 'SUCCESS',
      list_all: 'SUCCESS',
      all_skipped: 'SKIPPED',
    });
    expect(await result.outputFor('list_all')).toEqual([6, 10]);
  });
});

// ─── graph outputs: outputFor of a graph node (§2.2, §2.3) ───────────────────────────────────

const emitThree = op({ name: 'emit_three', out: new DynamicOut<number>() }, async function* () {
  for (const i of [0, 1, 2]) yield new DynamicOutput(i, String(i));
});
const echoNumber = op({ name: 'echo_number' }, async (_ctx, x: number) => x);
// test_composite_wrapping: a graph mapped over each key, shallow and three levels deep.
const doMultipleSteps = graph('do_multiple_steps', (z: Handle<number>) => echoNumber(echoNumber(z)));
const innerGraph = graph('inner', (x: Handle<number>) => echoNumber(x));
const middleGraph = graph('middle', (y: Handle<number>) => innerGraph(y));
const outerGraph = graph('outer', (z: Handle<number>) => middleGraph(z));
// test_graph_with_mapped_out: a graph returning a mapped handle.
const mappedOut = graph('mapped_out', () => emitThree().map(echoNumber));
const collectedGraph = graph('collected', () => emitThree().map(double).collect());
const pairGraph = graph('pair', (x: Handle<number>) => ({ same: echoNumber(x), twice: double(x) }));
const graphOutputs = conformanceJob('conformance_graph_outputs', () => {
  emitThree().map(doMultipleSteps);
  emitThree().map(outerGraph);
  mappedOut();
  sumAll(collectedGraph());
  pairGraph(one());
});
const nestedCollectGraph = graph('per_outer', (o: Handle<number>) => innerNumericKeys(o).map(echoNumber).collect());
const graphNested = conformanceJob('conformance_graph_nested', () => {
  listAll(
    numericKeys()
      .map((o) => sumAll(nestedCollectGraph(o)))
      .collect(),
  );
});

describe('graph outputs (§2.2): outputFor of a graph node resolves to the op its body returned', () => {
  const graphRun = once(() => run(graphOutputs));
  const mapOf = (entries: [string, number][]) => new Map(entries);
  const perKey = mapOf([
    ['0', 0],
    ['1', 1],
    ['2', 2],
  ]);

  it('a mapped graph gives its output per mapping key, shallow and three graphs deep (test_composite_wrapping)', async () => {
    const result = await graphRun();
    expect(result.failures).toEqual([]);
    expect(graphOutputs.plan.graphOutputs?.['do_multiple_steps']).toEqual({
      result: { kind: 'output', node: 'do_multiple_steps.echo_number_2', output: 'result' },
    });
    expect(await result.outputFor('do_multiple_steps')).toEqual(perKey);
    expect([...((await result.outputFor('do_multiple_steps')) as Map<string, number>).keys()]).toEqual(['0', '1', '2']);
    expect(await result.outputFor('outer')).toEqual(perKey);
    expect(await result.outputFor('outer.middle')).toEqual(perKey);
    expect(await result.outputFor('outer.middle.inner')).toEqual(perKey);
    expect(await result.outputFor('outer.middle.inner.echo_number')).toEqual(perKey);
  });

  it('a graph returning a mapped handle is dynamic (test_graph_with_mapped_out); one returning a collect gives the list', async () => {
    const result = await graphRun();
    expect(await result.outputFor('mapped_out')).toEqual(perKey);
    expect(await result.outputFor('collected')).toEqual([0, 2, 4]);
    expect(await result.outputFor('sum_all')).toBe(6);
  });

  it('a graph returning a record of handles has those outputs; an unknown output names the ones it has', async () => {
    const result = await graphRun();
    expect(await result.outputFor('pair', 'same')).toBe(1);
    expect(await result.outputFor('pair', 'twice')).toBe(2);
    await expect(result.outputFor('pair')).rejects.toThrow(
      /graph node "pair" of job "conformance_graph_outputs" has no output "result"; its outputs: same, twice/,
    );
  });

  it('a graph returning a collect inside a map gives one list per outer key, in yield order', async () => {
    const result = await run(graphNested);
    expect(result.failures).toEqual([]);
    const lists = (await result.outputFor('per_outer')) as Map<string, number[]>;
    expect([...lists.keys()]).toEqual(NUMERIC_KEYS);
    expect(lists.get('2')).toEqual([203, 220, 201]);
  });
});

// ─── output contract failures (§1.2–§1.4) ────────────────────────────────────────────────────

const dupeKeys = op({ name: 'dupe_keys', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'dunk');
  yield new DynamicOutput(2, 'dunk');
});
const keyFromConfig = op(
  {
    name: 'key_from_config',
    out: new DynamicOut<number>(),
    config: z.object({ key: z.string() }),
    retryPolicy: new RetryPolicy({ maxRetries: 2 }),
  },
  async function* (ctx) {
    yield new DynamicOutput(1, ctx.opConfig.key);
  },
);
// A DynamicOut body returning a plain value does not compile (test/types); cast past the checker to test the run-time check.
const returnsNumber = op({ name: 'returns_number', out: new DynamicOut() }, (async () => 5) as never);
const echoAny = op({ name: 'echo_any' }, async (_ctx, x: unknown) => x);
const plainYieldsDynamic = op({ name: 'plain_yields_dynamic' }, async function* () {
  yield new DynamicOutput(1, 'a');
});

const returnsOtherName = op({ name: 'returns_other_name', out: new DynamicOut<number>() }, async () => [
  new DynamicOutput(1, { mappingKey: 'a' }),
  new DynamicOutput(2, { mappingKey: 'b', outputName: 'other' }),
]);
const returnsDefaultName = op({ name: 'returns_default_name', out: new DynamicOut<number>() }, async () => [
  new DynamicOutput(1, { mappingKey: 'a', outputName: 'result' }),
]);
const recordOtherName = op({ name: 'record_other_name', out: { left: new Out<number>(), right: new Out<number>() } }, async () => ({
  left: new Output(1, { outputName: 'right' }),
  right: 2,
}));

const dupes = conformanceJob('conformance_duplicate_key', () => {
  listAll(dupeKeys().map(double).collect());
});
const invalidKeys = conformanceJob('conformance_invalid_keys', () => {
  keyFromConfig.alias('dash')();
  keyFromConfig.alias('empty')();
  keyFromConfig.alias('dot')();
  keyFromConfig.alias('too_long')();
  keyFromConfig.alias('fine')();
});
const nonList = conformanceJob('conformance_dynamic_non_list', () => {
  returnsNumber().map(echoAny);
});
const plainDynamic = conformanceJob('conformance_plain_yields_dynamic', () => {
  plainYieldsDynamic();
});
const returnedNames = conformanceJob('conformance_returned_output_names', () => {
  listAll(returnsOtherName().collect());
  listAll(returnsDefaultName().collect());
  const { left } = recordOtherName();
  plusOne(left);
});
describe('output contract failures (§1.2–§1.4)', () => {
  it('a duplicate mapping key fails the fan-out step with a message naming the op and the key', async () => {
    const result = await run(dupes);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({ dupe_keys: 'FAILURE', list_all: 'ABANDONED' });
    expect(result.failures).toHaveLength(1);
    const failure = result.failures[0];
    expect(failure?.stepKey).toBe('dupe_keys');
    expect(failure?.message).toMatch(/op "dupe_keys".*yielded a DynamicOutput with mapping_key "dunk" multiple times/);
  });

  it('invalid mapping keys ("a-b", "", "foo.baz", 201 chars) fail the step with a clear, non-retried validation error', async () => {
    const result = await run(invalidKeys, {
      ops: {
        dash: { config: { key: 'a-b' } },
        empty: { config: { key: '' } },
        dot: { config: { key: 'foo.baz' } },
        too_long: { config: { key: 'k'.repeat(201) } },
        fine: { config: { key: 'k'.repeat(200) } },
      },
    });
    expect(result.stepStatuses()).toEqual({ dash: 'FAILURE', empty: 'FAILURE', dot: 'FAILURE', too_long: 'FAILURE', fine: 'SUCCESS' });
    expect(await result.outputFor('fine')).toEqual(new Map([['k'.repeat(200), 1]]));
    expect(result.failures.find((f) => f.stepKey === 'too_long')?.message).toContain('is 201 characters long; the limit is 200');
    const byStep = Object.fromEntries(result.failures.map((f) => [f.stepKey, f]));
    for (const [step, key] of [
      ['dash', 'a-b'],
      ['empty', ''],
      ['dot', 'foo.baz'],
    ] as const) {
      expect(byStep[step]?.type).toBe('OpValidationError');
      expect(byStep[step]?.message).toContain(`mapping key ${JSON.stringify(key)} is not valid: keys must match ^[A-Za-z0-9_]+$`);
      expect(byStep[step]?.message).toContain('op "key_from_config"');
      // Contract violations are not user-code failures: the RetryPolicy does not apply.
      expect(result.steps()[step]?.attempts).toBe(1);
    }
  });

  it('a DynamicOut op returning a non-list fails with "expected a list of DynamicOutput"', async () => {
    const result = await run(nonList);
    expect(result.stepStatuses()).toEqual({ returns_number: 'FAILURE' });
    expect(result.failures[0]?.message).toMatch(
      /dynamic output "result" expected a list of DynamicOutput objects, but received a value of type number/,
    );
  });

  it('a returned DynamicOutput / Output explicitly named for another output fails the step (compute_generator _check_output_object_name)', async () => {
    const result = await run(returnedNames);
    expect(result.stepStatuses()).toEqual({
      returns_other_name: 'FAILURE',
      list_all: 'ABANDONED',
      returns_default_name: 'SUCCESS',
      list_all_2: 'SUCCESS',
      record_other_name: 'FAILURE',
      plus_one: 'ABANDONED',
    });
    const byStep = Object.fromEntries(result.failures.map((f) => [f.stepKey, f]));
    expect(byStep['returns_other_name']?.type).toBe('OpValidationError');
    expect(byStep['returns_other_name']?.message).toMatch(
      /op "returns_other_name".*returned a DynamicOutput \(list position 1\) explicitly named "other" for output "result", which does not match the output definition/,
    );
    expect(result.steps()['returns_other_name']?.attempts).toBe(1);
    // The default name "result" is accepted for any output, as in Dagster.
    expect(await result.outputFor('list_all_2')).toEqual([1]);
    expect(byStep['record_other_name']?.message).toMatch(
      /op "record_other_name".*returned an Output explicitly named "right" for output "left", which does not match the output definition/,
    );
  });

  it('a plain (non-dynamic) op yielding DynamicOutput fails', async () => {
    const result = await run(plainDynamic);
    expect(result.stepStatuses()).toEqual({ plain_yields_dynamic: 'FAILURE' });
    expect(result.failures[0]?.type).toBe('OpValidationError');
    expect(result.failures[0]?.message).toMatch(
      /op "plain_yields_dynamic".*yielded a DynamicOutput for output "result", which is not declared with DynamicOut/,
    );
  });
});

// ─── retries (§4.3) ──────────────────────────────────────────────────────────────────────────

const attemptsSeen: Record<string, number[]> = {};
function noteAttempt(stepKey: string, attempt: number): void {
  (attemptsSeen[stepKey] ??= []).push(attempt);
}
const flakyTwice = op({ name: 'flaky_twice', retryPolicy: new RetryPolicy({ maxRetries: 2 }) }, async (ctx, x: number) => {
  noteAttempt(ctx.stepKey, ctx.attempt);
  if (ctx.attempt <= 2) throw new Error(`transient failure on attempt ${ctx.attempt}`);
  return x * 100;
});
const alwaysFailsOnB = op({ name: 'always_fails_on_b', retryPolicy: new RetryPolicy({ maxRetries: 2 }) }, async (ctx, x: number) => {
  noteAttempt(ctx.stepKey, ctx.attempt);
  if (ctx.getMappingKey() === 'b') throw new Error(`b fails on attempt ${ctx.attempt}`);
  return x;
});
const failsOnce = op({ name: 'fails_once_no_policy' }, async (ctx, _x: number) => {
  noteAttempt(ctx.stepKey, ctx.attempt);
  throw new Error('no second chance');
});

const retriedFanOut = op(
  { name: 'retried_fan_out', out: new DynamicOut<number>(), retryPolicy: new RetryPolicy({ maxRetries: 1 }) },
  async function* (ctx) {
    if (ctx.attempt === 1) {
      yield new DynamicOutput(1, 'first_a');
      yield new DynamicOutput(2, 'first_b');
      throw new Error('fan-out fails after yielding two items');
    }
    yield new DynamicOutput(3, 'second_c');
    yield new DynamicOutput(4, 'second_d');
  },
);

const fanOutRetry = conformanceJob('conformance_retry_fan_out', () => {
  listAll(retriedFanOut().map(double).collect());
});
const flaky = conformanceJob('conformance_retry_flaky', () => {
  listAll(threeKeys().map(flakyTwice).collect());
});
const perKey = conformanceJob('conformance_retry_per_key', () => {
  listAll(threeKeys().map(alwaysFailsOnB).collect());
});
const noPolicy = conformanceJob('conformance_retry_none', () => {
  failsOnce(one());
});
describe('retries per step key (§4.3)', () => {
  it('RetryPolicy({ maxRetries: 2 }): an op failing its first 2 attempts per key succeeds on attempt 3 for every key', async () => {
    const result = await run(flaky);
    expect(result.success).toBe(true);
    expect(await result.outputFor('list_all')).toEqual([100, 200, 300]);
    for (const key of ['a', 'b', 'c']) {
      expect(result.steps()[`flaky_twice[${key}]`]?.attempts).toBe(3);
      expect(attemptsSeen[`flaky_twice[${key}]`]).toEqual([1, 2, 3]);
    }
    expect(result.steps()['three_keys']?.attempts).toBe(1);
  });

  it('attempts are counted per step key: b fails after exactly 3 attempts, a and c succeed at attempt 1', async () => {
    const result = await run(perKey);
    expect(result.success).toBe(false);
    const steps = result.steps();
    expect(steps['always_fails_on_b[a]']).toMatchObject({ status: 'SUCCESS', attempts: 1 });
    expect(steps['always_fails_on_b[b]']).toMatchObject({ status: 'FAILURE', attempts: 3 });
    expect(steps['always_fails_on_b[c]']).toMatchObject({ status: 'SUCCESS', attempts: 1 });
    expect(attemptsSeen['always_fails_on_b[a]']).toEqual([1]);
    expect(attemptsSeen['always_fails_on_b[b]']).toEqual([1, 2, 3]);
    expect(attemptsSeen['always_fails_on_b[c]']).toEqual([1]);
    expect(result.stepStatus('list_all')).toBe('ABANDONED');
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.message).toContain('b fails on attempt 3');
  });

  it('a retried fan-out op resolves only the keys of its successful attempt', async () => {
    const result = await run(fanOutRetry);
    expect(result.success).toBe(true);
    expect(result.steps()['retried_fan_out']?.attempts).toBe(2);
    expect(result.stepStatuses()).toEqual({
      retried_fan_out: 'SUCCESS',
      list_all: 'SUCCESS',
      'double[second_c]': 'SUCCESS',
      'double[second_d]': 'SUCCESS',
    });
    expect(await result.outputFor('list_all')).toEqual([6, 8]);
  });

  it('no RetryPolicy: a failing op runs exactly once', async () => {
    const result = await run(noPolicy);
    expect(result.stepStatuses()).toEqual({ one: 'SUCCESS', fails_once_no_policy: 'FAILURE' });
    expect(result.steps()['fails_once_no_policy']?.attempts).toBe(1);
    expect(attemptsSeen['fails_once_no_policy']).toEqual([1]);
  });
});

// ─── op context (§4.2) ───────────────────────────────────────────────────────────────────────

const keysSeen: Record<string, string | null> = {};
const observeKey = op({ name: 'observe_key' }, async (ctx, _x: number) => {
  keysSeen[ctx.stepKey] = ctx.getMappingKey() ?? null;
  return ctx.getMappingKey() ?? null;
});
const observeKeyFanOut = op({ name: 'observe_key_fan_out', out: new DynamicOut<number>() }, async function* (ctx) {
  keysSeen[ctx.stepKey] = ctx.getMappingKey() ?? null;
  yield new DynamicOutput(1, 'key_1');
  yield new DynamicOutput(2, 'key_2');
});
const observeKeyCollect = op({ name: 'observe_key_collect' }, async (ctx, xs: (string | null)[]) => {
  keysSeen[ctx.stepKey] = ctx.getMappingKey() ?? null;
  return xs;
});

const contextKeys = conformanceJob('conformance_mapping_key', () => {
  observeKey(one());
  observeKeyCollect(observeKeyFanOut().map(observeKey).collect());
});
const scaled = op(
  { name: 'scaled', config: z.object({ factor: z.number(), label: z.string().default('scaled') }) },
  async (ctx, x: number) => ({ label: ctx.opConfig.label, value: x * ctx.opConfig.factor }),
);
const configured = conformanceJob('conformance_op_config', () => {
  scaled(one());
  threeKeys().map(scaled.alias('scaled_each'));
});
const add = op({ name: 'add_inputs' }, async (_ctx, x: number, y: number) => x + y);
const unwired = conformanceJob('conformance_config_inputs', () => {
  add(one());
  add.alias('both_from_config')();
});
describe('op context (§4.2)', () => {
  it('ctx.getMappingKey() is the key inside clones and undefined in static, fan-out and collect steps', async () => {
    const result = await run(contextKeys);
    expect(result.success).toBe(true);
    expect(keysSeen).toEqual({
      observe_key: null,
      observe_key_fan_out: null,
      'observe_key_2[key_1]': 'key_1',
      'observe_key_2[key_2]': 'key_2',
      observe_key_collect: null,
    });
    expect(await result.outputFor('observe_key_collect')).toEqual(['key_1', 'key_2']);
  });

  it('op config from run config reaches ctx.opConfig, parsed by the zod schema, in static ops and every clone', async () => {
    const result = await run(configured, {
      ops: { scaled: { config: { factor: 7 } }, scaled_each: { config: { factor: 3, label: 'each' } } },
    });
    expect(result.success).toBe(true);
    expect(await result.outputFor('scaled')).toEqual({ label: 'scaled', value: 7 });
    expect(await result.outputFor('scaled_each')).toEqual(
      new Map([
        ['a', { label: 'each', value: 3 }],
        ['b', { label: 'each', value: 6 }],
        ['c', { label: 'each', value: 9 }],
      ]),
    );
  });

  it('run config inputs supply unwired inputs', async () => {
    const result = await run(unwired, {
      ops: { add_inputs: { inputs: { y: 41 } }, both_from_config: { inputs: { x: 2, y: 3 } } },
    });
    expect(result.success).toBe(true);
    expect(await result.outputFor('add_inputs')).toBe(42);
    expect(await result.outputFor('both_from_config')).toBe(5);
  });
});

// ─── allowed patterns of §2.3/§2.4, run for real ────────────────────────────────────────────

const zeroOneTwo = op({ name: 'zero_one_two', out: new DynamicOut<number>() }, async function* () {
  // "1" and "01" are distinct keys: never normalized.
  yield new DynamicOutput(0, '0');
  yield new DynamicOutput(1, '1');
  yield new DynamicOutput(2, '01');
});
const echoList = op({ name: 'echo_list' }, async (_ctx, xs: number[]) => xs);
const addEach = op({ name: 'add_each' }, async (_ctx, xs: number[], y: number) => xs.map((x) => x + y));
const emitEach = op({ name: 'emit_each', out: new DynamicOut<number>() }, async function* (_ctx, xs: number[]) {
  for (const [i, x] of xs.entries()) yield new DynamicOutput(x, `e${i}`);
});
const concat = op({ name: 'concat' }, async (_ctx, a: number[], b: number[]) => [...a, ...b]);
const listLists = op({ name: 'list_lists' }, async (_ctx, xs: number[][]) => xs);

const collectAndMap = conformanceJob('conformance_collect_and_map', () => {
  const d1 = zeroOneTwo();
  listLists(d1.map((x) => addEach(echoList(d1.collect()), x)).collect());
});
const fanRepeat = conformanceJob('conformance_fan_repeat', () => {
  const first = zeroOneTwo().map(double);
  const second = emitEach(first.collect()).map(double);
  sumAll(emitEach.alias('emit_again')(second.collect()).map(double).collect());
});
const multiCollect = conformanceJob('conformance_multi_collect', () => {
  const d1 = zeroOneTwo();
  concat(d1.collect(), d1.map(double).collect());
});
describe('allowed patterns, at run time (§2.3, §2.4)', () => {
  it('collect → static op → used inside the map (test_collect_and_map)', async () => {
    const result = await run(collectAndMap);
    expect(result.success).toBe(true);
    expect(await result.outputFor('echo_list')).toEqual([0, 1, 2]);
    expect(await result.outputFor('list_lists')).toEqual([
      [0, 1, 2],
      [1, 2, 3],
      [2, 3, 4],
    ]);
    expect(result.stepKeysOf('add_each')).toEqual(['add_each[0]', 'add_each[1]', 'add_each[01]']);
  });

  it('fan_repeat: map → collect → new fan-out → map → collect, twice', async () => {
    const result = await run(fanRepeat);
    expect(result.success).toBe(true);
    // [0,1,2] ×2 → [0,2,4] ×2 → [0,4,8] ×2 → 24
    expect(await result.outputFor('sum_all')).toBe(24);
    expect(result.stepKeysOf('double_3')).toEqual(['double_3[e0]', 'double_3[e1]', 'double_3[e2]']);
  });

  it('one op collects the raw items and a mapped result of the same dynamic output (test_multi_collect)', async () => {
    const result = await run(multiCollect);
    expect(await result.outputFor('concat')).toEqual([0, 1, 2, 0, 2, 4]);
  });
});

// ─── concurrency (§5) ────────────────────────────────────────────────────────────────────────

const spans: Record<string, { start: number; end: number }> = {};
const slow = op({ name: 'slow' }, async (ctx) => {
  const start = Date.now();
  await sleep(300);
  spans[ctx.stepKey] = { start, end: Date.now() };
  return ctx.stepKey;
});
const join = op({ name: 'join_slow' }, async (_ctx, a: string, b: string) => [a, b]);

const parallel = conformanceJob('conformance_concurrent', () => {
  join(slow.alias('slow_left')(), slow.alias('slow_right')());
});
describe('concurrency (§5)', () => {
  it('ready nodes run concurrently: two independent slow ops overlap in time', async () => {
    const started = Date.now();
    const result = await run(parallel);
    expect(result.success).toBe(true);
    expect(await result.outputFor('join_slow')).toEqual(['slow_left', 'slow_right']);
    const left = spans['slow_left'];
    const right = spans['slow_right'];
    expect(left && right).toBeTruthy();
    if (!left || !right) return;
    expect(left.end - left.start).toBeGreaterThanOrEqual(290);
    expect(right.end - right.start).toBeGreaterThanOrEqual(290);
    expect(left.start).toBeLessThan(right.end);
    expect(right.start).toBeLessThan(left.end);
    // Overlap of at least half a sleep: run one after the other, they would not overlap at all.
    expect(Math.min(left.end, right.end) - Math.max(left.start, right.start)).toBeGreaterThan(150);
    expect(Math.max(left.start, right.start)).toBeGreaterThanOrEqual(started);
  });
});

// ─── nested fan-out (beyond Dagster, DESIGN §4) ──────────────────────────────────────────────

const nested = conformanceJob('conformance_nested', () => {
  const perOuter = outerKeys().map((o) => joinInner(innerKeys(o).map(innerOp).collect()));
  joinOuter(perOuter.collect());
});
describe('nested fan-out (beyond Dagster)', () => {
  it('maps and collects an inner DynamicOut inside each outer key, then collects the outer map', async () => {
    expect(nested.plan.nodes.find((n) => n.id === 'inner_op')?.dim).toEqual(['outer_keys:result', 'inner_keys:result']);
    const result = await run(nested);
    expect(result.success).toBe(true);
    expect(await result.outputFor('join_outer')).toEqual(['Ay@a,y+Ax@a,x+Az@a,z', 'By@b,y+Bx@b,x+Bz@b,z']);
    expect(await result.outputFor('join_inner')).toEqual(
      new Map([
        ['a', 'Ay@a,y+Ax@a,x+Az@a,z'],
        ['b', 'By@b,y+Bx@b,x+Bz@b,z'],
      ]),
    );
    const inner = (await result.outputFor('inner_op')) as Map<string, string>;
    expect([...inner.keys()]).toEqual(['a,y', 'a,x', 'a,z', 'b,y', 'b,x', 'b,z']);
    expect(inner.get('a,x')).toBe('Ax@a,x');
    expect(result.stepStatuses()).toEqual({
      outer_keys: 'SUCCESS',
      join_outer: 'SUCCESS',
      'inner_keys[a]': 'SUCCESS',
      'join_inner[a]': 'SUCCESS',
      'inner_op[a,y]': 'SUCCESS',
      'inner_op[a,x]': 'SUCCESS',
      'inner_op[a,z]': 'SUCCESS',
      'inner_keys[b]': 'SUCCESS',
      'join_inner[b]': 'SUCCESS',
      'inner_op[b,y]': 'SUCCESS',
      'inner_op[b,x]': 'SUCCESS',
      'inner_op[b,z]': 'SUCCESS',
    });
    expect(result.stepKeysOf('inner_op')).toEqual([
      'inner_op[a,y]',
      'inner_op[a,x]',
      'inner_op[a,z]',
      'inner_op[b,y]',
      'inner_op[b,x]',
      'inner_op[b,z]',
    ]);
    // getMappingKey() is the innermost key; ctx.mappingKeys has both.
    expect(innerKeysSeen['inner_op[b,x]']).toBe('x');
    expect(clonesOf(result)).toHaveLength(10);
  });
});
