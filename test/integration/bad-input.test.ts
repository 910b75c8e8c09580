/**
 * Bad input, end to end on the suite's real Temporal server. For each case: (a) the message says
 * what happened, where (job, node / step key) and how to fix it; (b) nothing already done is lost —
 * the other steps (and the other mapping keys) are SUCCESS with their outputs in `outputFor`, the
 * failure is listed by step key in `result.failures`, and no run hangs or is terminated.
 *
 * Cases already covered elsewhere with both (a) and (b), not repeated here:
 *
 * | case                                              | test file › test name                                                                                          |
 * | ------------------------------------------------- | -------------------------------------------------------------------------------------------------------------- |
 * | invalid mapping key ("a-b", "", "foo.baz", 201 ch) | conformance.test.ts › output contract failures (§1.2–§1.4) › invalid mapping keys ("a-b", "", "foo.baz", 201 chars) fail the step with a clear, non-retried validation error |
 * | DynamicOut op returning a non-list                | conformance.test.ts › output contract failures (§1.2–§1.4) › a DynamicOut op returning a non-list fails with "expected a list of DynamicOutput" |
 * | run config failing an op's config schema          | seed-api-reference.test.ts › process_directory (seed: API reference) on a real Temporal server › rejects run config that fails the config schema before the run starts (RunConfigError naming ops.<node>.config.<field>; no workflow created) |
 * | run config for a node the job does not have       | seed-api-reference.test.ts › … › rejects config for a node the job does not have                               |
 * | unknown job name (Definitions.getJob)             | definition-errors.test.ts › other definition checks › accepts the same op used by several jobs, and rejects an unknown job name on lookup (the fix hint is asserted below) |
 * | op output over 2 MiB (50 MB; items over 128 KiB)  | largeValues.test.ts › large values travel through the store, never through Temporal › passes a 50 MB op output to the next op; the job history stays small / maps and collects items over the threshold as references |
 * | Temporal unreachable                              | unreachable.test.ts › Temporal unreachable › the worker connection fails within seconds, naming the address and what to do / the client connection fails within its timeout, naming the address |
 *
 * Covered there for (a) only, completed here with (b): duplicate mapping key and a plain op
 * yielding DynamicOutput (conformance.test.ts › output contract failures).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import {
  Definitions,
  DynamicOut,
  DynamicOutput,
  In,
  job,
  type JobDefinition,
  type JobResult,
  op,
  Out,
  Output,
  RetryPolicy,
  type RunConfig,
} from 'opgraph';
import { awaitRun, launchRun, type LaunchedRun } from '../../src/client/run.ts';
import { RunConfigError } from '../../src/dsl/errors.ts';
import { connectNative, createWorker } from '../../src/worker/createWorker.ts';
import { fileWideWorker } from './harness.ts';

// One worker serves every job of this file (collected below) for the whole file.
const suite = fileWideWorker();
const badInputJob = (name: string, body: () => unknown): JobDefinition => suite.define(name, body);

/**
 * Waits for a run, but never forever: a run still open after `ms` is terminated (so it does not
 * linger on the shared server) and the test fails saying it was stuck.
 */
async function settle(run: LaunchedRun, ms = 45_000): Promise<JobResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run ${run.workflowId} was still running after ${ms} ms (stuck)`)), ms);
  });
  try {
    return await Promise.race([awaitRun(run), deadline]);
  } catch (err) {
    await run.handle.terminate('bad-input.test.ts: run did not finish in time').catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function start(definition: JobDefinition, runConfig?: RunConfig): Promise<{ run: LaunchedRun; result: JobResult }> {
  const run = await launchRun(suite.harness.client, definition, { taskQueue: suite.taskQueue, ...(runConfig ? { runConfig } : {}) });
  return { run, result: await settle(run) };
}

async function run(definition: JobDefinition, runConfig?: RunConfig): Promise<JobResult> {
  return (await start(definition, runConfig)).result;
}

function failureOf(result: JobResult, stepKey: string): { type: string; message: string } {
  const failure = result.failures.find((f) => f.stepKey === stepKey);
  expect(failure, `no failure for step ${stepKey}; failures: ${JSON.stringify(result.failures)}`).toBeDefined();
  return { type: failure?.type ?? '', message: failure?.message ?? '' };
}

/** Launching must fail with RunConfigError before anything reaches the server. */
async function expectRejectedBeforeStart(definition: JobDefinition, runConfig: RunConfig): Promise<RunConfigError> {
  const workflowId = `${definition.name}-rejected-${randomUUID()}`;
  const error: unknown = await launchRun(suite.harness.client, definition, { runConfig, workflowId, taskQueue: suite.taskQueue }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(RunConfigError);
  await expect(suite.harness.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  return error as RunConfigError;
}

// ─── shared ops ──────────────────────────────────────────────────────────────────────────────

const letters = op({ name: 'bi_letters', out: new DynamicOut<string>() }, async function* () {
  for (const letter of ['a', 'b', 'c']) yield new DynamicOutput(letter, letter);
});
const numbers = op({ name: 'bi_numbers', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a');
  yield new DynamicOutput(2, 'b');
  yield new DynamicOutput(3, 'c');
});
const upper = op({ name: 'bi_upper' }, async (_ctx, s: string) => s.toUpperCase());
const times10 = op({ name: 'bi_times10' }, async (_ctx, x: number) => x * 10);
const sumAll = op({ name: 'bi_sum' }, async (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const listAll = op({ name: 'bi_list' }, async (_ctx, xs: unknown[]) => xs);
const fine = op({ name: 'bi_fine' }, async () => 'still here');
const echo = op({ name: 'bi_echo' }, async (_ctx, x: unknown) => x);

// ─── mapping keys ────────────────────────────────────────────────────────────────────────────

/** Inside each letter's scope: keys "one", "two" — except for "b", which repeats "one". */
const innerKeys = op(
  { name: 'bi_inner_keys', out: new DynamicOut<number>(), retryPolicy: new RetryPolicy({ maxRetries: 2 }) },
  async function* (_ctx, letter: string) {
    yield new DynamicOutput(1, 'one');
    yield new DynamicOutput(2, letter === 'b' ? 'one' : 'two');
  },
);
const duplicateKey = badInputJob('bad_input_duplicate_key', () => {
  const perLetter = letters().map((letter) => sumAll(innerKeys(letter).map(times10).collect()));
  listAll(perLetter.collect());
});

describe('duplicate mapping key', () => {
  it('fails only the fan-out step of the key that repeats it; the other keys and their clones keep their outputs', async () => {
    const result = await run(duplicateKey);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      bi_letters: 'SUCCESS',
      'bi_inner_keys[a]': 'SUCCESS',
      'bi_times10[a,one]': 'SUCCESS',
      'bi_times10[a,two]': 'SUCCESS',
      'bi_sum[a]': 'SUCCESS',
      'bi_inner_keys[b]': 'FAILURE',
      'bi_sum[b]': 'ABANDONED',
      'bi_inner_keys[c]': 'SUCCESS',
      'bi_times10[c,one]': 'SUCCESS',
      'bi_times10[c,two]': 'SUCCESS',
      'bi_sum[c]': 'SUCCESS',
      bi_list: 'ABANDONED',
    });
    expect(await result.outputFor('bi_sum')).toEqual(
      new Map([
        ['a', 30],
        ['c', 30],
      ]),
    );
    expect(await result.outputFor('bi_times10')).toEqual(
      new Map([
        ['a,one', 10],
        ['a,two', 20],
        ['c,one', 10],
        ['c,two', 20],
      ]),
    );
    expect(result.failures.map((f) => f.stepKey)).toEqual(['bi_inner_keys[b]']);
    const failure = failureOf(result, 'bi_inner_keys[b]');
    expect(failure.type).toBe('OpValidationError');
    expect(failure.message).toBe(
      '[bad_input_duplicate_key bi_inner_keys[b]] op "bi_inner_keys" (step bi_inner_keys[b]) yielded a DynamicOutput with mapping_key "one" multiple times (output "result"). Fix: make mapping keys unique per output, e.g. append the item index.',
    );
    // A broken contract is not retried, whatever the RetryPolicy says.
    expect(result.steps()['bi_inner_keys[b]']?.attempts).toBe(1);
  });
});

// ─── output kinds ────────────────────────────────────────────────────────────────────────────

// Bodies that break the op contract do not compile (test/types); cast past the checker to test the run-time check.
const yieldsNumber = op({ name: 'bi_yields_number', out: new DynamicOut() }, async function* () {
  yield new DynamicOutput(1, 'ok');
  yield 5;
} as never);
const yieldsOutput = op({ name: 'bi_yields_output', out: new DynamicOut() }, async function* () {
  yield new Output(5);
} as never);
const dynamicYieldsPlain = badInputJob('bad_input_dynamic_yields_plain', () => {
  yieldsNumber().map(echo);
  yieldsOutput().map(echo.alias('echo_output'));
  letters().map(upper);
});

const sometimesDynamic = op({ name: 'bi_sometimes_dynamic' }, async (ctx, s: string) =>
  ctx.getMappingKey() === 'b' ? new DynamicOutput(s, 'oops') : s.toUpperCase(),
);
const plainYieldsDynamic = op({ name: 'bi_plain_yields_dynamic' }, async function* () {
  yield new DynamicOutput(1, 'a');
});
const plainReturnsDynamic = badInputJob('bad_input_plain_returns_dynamic', () => {
  listAll(letters().map(sometimesDynamic).collect());
  plainYieldsDynamic();
  fine();
});

describe('output kinds', () => {
  it('a DynamicOut op yielding a plain value (5, or new Output(5)) fails by step key; other fan-outs and their clones finish', async () => {
    const result = await run(dynamicYieldsPlain);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      bi_yields_number: 'FAILURE',
      bi_yields_output: 'FAILURE',
      bi_letters: 'SUCCESS',
      'bi_upper[a]': 'SUCCESS',
      'bi_upper[b]': 'SUCCESS',
      'bi_upper[c]': 'SUCCESS',
    });
    expect(await result.outputFor('bi_upper')).toEqual(
      new Map([
        ['a', 'A'],
        ['b', 'B'],
        ['c', 'C'],
      ]),
    );
    expect(result.failures.map((f) => f.stepKey).sort()).toEqual(['bi_yields_number', 'bi_yields_output']);
    expect(failureOf(result, 'bi_yields_number')).toEqual({
      type: 'OpValidationError',
      message:
        '[bad_input_dynamic_yields_plain bi_yields_number] op "bi_yields_number" (step bi_yields_number) yielded a value of type number from output "result", which is a DynamicOut: each item needs a mapping key. Fix: yield new DynamicOutput(value, mappingKey) for each item, e.g. new DynamicOutput(value, String(index)).',
    });
    expect(failureOf(result, 'bi_yields_output')).toEqual({
      type: 'OpValidationError',
      message:
        '[bad_input_dynamic_yields_plain bi_yields_output] op "bi_yields_output" (step bi_yields_output) output "result" is defined as dynamic and must yield DynamicOutput, got a plain value (Output). Fix: yield new DynamicOutput(value, mappingKey) for each item, or return a list of them.',
    });
  });

  it('a plain op returning or yielding a DynamicOutput fails by step key; its sibling clones and other steps finish', async () => {
    const result = await run(plainReturnsDynamic);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      bi_letters: 'SUCCESS',
      'bi_sometimes_dynamic[a]': 'SUCCESS',
      'bi_sometimes_dynamic[b]': 'FAILURE',
      'bi_sometimes_dynamic[c]': 'SUCCESS',
      bi_list: 'ABANDONED',
      bi_plain_yields_dynamic: 'FAILURE',
      bi_fine: 'SUCCESS',
    });
    expect(await result.outputFor('bi_sometimes_dynamic')).toEqual(
      new Map([
        ['a', 'A'],
        ['c', 'C'],
      ]),
    );
    expect(await result.outputFor('bi_fine')).toBe('still here');
    expect(failureOf(result, 'bi_sometimes_dynamic[b]')).toEqual({
      type: 'OpValidationError',
      message:
        '[bad_input_plain_returns_dynamic bi_sometimes_dynamic[b]] op "bi_sometimes_dynamic" (step bi_sometimes_dynamic[b]) returned a DynamicOutput for output "result", which is not declared with DynamicOut. Fix: declare it as out: new DynamicOut(), or return the plain value instead.',
    });
    expect(failureOf(result, 'bi_plain_yields_dynamic').message).toBe(
      '[bad_input_plain_returns_dynamic bi_plain_yields_dynamic] op "bi_plain_yields_dynamic" (step bi_plain_yields_dynamic) yielded a DynamicOutput for output "result", which is not declared with DynamicOut. Fix: declare it as out: new DynamicOut(), or yield new Output(value) instead.',
    );
  });
});

// ─── schemas ─────────────────────────────────────────────────────────────────────────────────

const countOf = op(
  { name: 'bi_count_of', out: new Out({ schema: z.number() }) },
  async (_ctx, x: number) =>
    // Key b breaks the declared type at run time (the cast hides it from the compiler, as `any` data would).
    (x === 2 ? 'two' : x * 10) as number,
);
const outputSchema = badInputJob('bad_input_output_schema', () => {
  sumAll(numbers().map(countOf).collect());
  fine();
});

const signed = op({ name: 'bi_signed', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a');
  yield new DynamicOutput(-1, 'b');
  yield new DynamicOutput(2, 'c');
});
const minusOne = op({ name: 'bi_minus_one' }, async () => -1);
const square = op({ name: 'bi_square', ins: { x: new In({ schema: z.number().positive() }) } }, async (_ctx, x: number) => x * x);
const inputSchema = badInputJob('bad_input_input_schema', () => {
  signed().map(square);
  square.alias('square_static')(minusOne());
  fine();
});
const inputFromConfig = badInputJob('bad_input_input_from_config', () => {
  square.alias('square_config')();
});

describe('schemas', () => {
  it("an output failing its zod schema fails that key's step; the other keys keep their outputs", async () => {
    const result = await run(outputSchema);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      bi_numbers: 'SUCCESS',
      'bi_count_of[a]': 'SUCCESS',
      'bi_count_of[b]': 'FAILURE',
      'bi_count_of[c]': 'SUCCESS',
      bi_sum: 'ABANDONED',
      bi_fine: 'SUCCESS',
    });
    expect(await result.outputFor('bi_count_of')).toEqual(
      new Map([
        ['a', 10],
        ['c', 30],
      ]),
    );
    expect(await result.outputFor('bi_fine')).toBe('still here');
    expect(result.failures.map((f) => f.stepKey)).toEqual(['bi_count_of[b]']);
    expect(failureOf(result, 'bi_count_of[b]')).toEqual({
      type: 'OpValidationError',
      message:
        '[bad_input_output_schema bi_count_of[b]] op "bi_count_of" (step bi_count_of[b]) output "result" failed its schema: (value): Invalid input: expected number, received string. Fix: make the op produce a value of the declared type, or change the output\'s schema (new Out({ schema })).',
    });
  });

  it('an input failing its schema (-1 for z.number().positive()) fails that step, naming where the value came from', async () => {
    const result = await run(inputSchema);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      bi_signed: 'SUCCESS',
      'bi_square[a]': 'SUCCESS',
      'bi_square[b]': 'FAILURE',
      'bi_square[c]': 'SUCCESS',
      bi_minus_one: 'SUCCESS',
      square_static: 'FAILURE',
      bi_fine: 'SUCCESS',
    });
    expect(await result.outputFor('bi_square')).toEqual(
      new Map([
        ['a', 1],
        ['c', 4],
      ]),
    );
    expect(await result.outputFor('bi_minus_one')).toBe(-1);
    expect(result.failures.map((f) => f.stepKey).sort()).toEqual(['bi_square[b]', 'square_static']);
    expect(failureOf(result, 'bi_square[b]')).toEqual({
      type: 'OpValidationError',
      message:
        '[bad_input_input_schema bi_square[b]] input "x" of op "bi_square" failed its schema: (value): Too small: expected number to be >0 (received -1, from an item of dynamic output "result" of node "bi_signed"). Fix: make node "bi_signed" yield valid items, or change the input\'s schema.',
    });
    expect(failureOf(result, 'square_static').message).toBe(
      '[bad_input_input_schema square_static] input "x" of op "bi_square" failed its schema: (value): Too small: expected number to be >0 (received -1, from output "result" of node "bi_minus_one"). Fix: make op node "bi_minus_one" produce valid values, or change the input\'s schema.',
    );
    expect(result.steps()['bi_square[b]']?.attempts).toBe(1);
  });

  it('a run config input failing its In schema is rejected by launchRun: no workflow is created', async () => {
    const error = await expectRejectedBeforeStart(inputFromConfig, { ops: { square_config: { inputs: { x: -1 } } } });
    expect(error.message).toBe(
      'Run config for job "bad_input_input_from_config" is invalid:\n' +
        '  - ops.square_config.inputs.x: Too small: expected number to be >0 (input "x" of op "bi_square" schema)\n' +
        '    fix: change ops.square_config.inputs.x to a value the input "x" of op "bi_square" schema accepts',
    );
    // The same job with a valid input runs.
    const result = await run(inputFromConfig, { ops: { square_config: { inputs: { x: 3 } } } });
    expect(await result.outputFor('square_config')).toBe(9);
  });
});

// ─── run config ──────────────────────────────────────────────────────────────────────────────

const scaled = op({ name: 'bi_scaled', config: z.object({ factor: z.number() }) }, async (ctx) => ctx.opConfig.factor * 2);
const configured = badInputJob('bad_input_config', () => {
  scaled();
  echo.alias('echo_config')();
});

describe('run config (rejected by launchRun before the run starts)', () => {
  it('missing op config and values JSON cannot carry: every problem listed with its path and fix; no workflow is created', async () => {
    const error = await expectRejectedBeforeStart(configured, { ops: { echo_config: { inputs: { x: { size: 10n } } } } });
    expect(error.issues).toEqual([
      {
        path: 'ops.bi_scaled.config',
        message: 'missing; op "bi_scaled" requires config matching its config schema (Invalid input: expected object, received undefined)',
        fix: 'supply it: runConfig { ops: { bi_scaled: { config: { factor: … } } } }',
      },
      {
        path: 'ops.echo_config.inputs.x.size',
        message: 'the value is a BigInt, which JSON cannot carry',
        fix: 'convert with String(x) or Number(x); run config travels as JSON, so use plain data (objects, arrays, strings, numbers, booleans, null)',
      },
    ]);
    expect(error.message).toContain('Run config for job "bad_input_config" is invalid:');
  });
});

// ─── values JSON cannot carry ────────────────────────────────────────────────────────────────

const returnsFunction = op({ name: 'bi_returns_function' }, async () => ({ callback: () => 1 }));
const returnsBigInt = op({ name: 'bi_returns_bigint' }, async () => ({ total: 10n }));
const returnsCircular = op({ name: 'bi_returns_circular' }, async () => {
  const node: { id: number; self?: unknown } = { id: 1 };
  node.self = node;
  return node;
});
const returnsMap = op({ name: 'bi_returns_map' }, async () => new Map([['a', 1]]));
const mapItemOnB = op({ name: 'bi_map_item_on_b' }, async (ctx, s: string) =>
  ctx.getMappingKey() === 'b' ? { seen: new Set([s]) } : { seen: [s] },
);
const notJson = badInputJob('bad_input_not_json', () => {
  returnsFunction();
  returnsBigInt();
  returnsCircular();
  returnsMap();
  letters().map(mapItemOnB);
  fine();
});

describe('values JSON cannot carry', () => {
  it('a function, BigInt, circular structure, Map or Set in an output fails that step with the path to the value; the rest finishes', async () => {
    const result = await run(notJson);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      bi_returns_function: 'FAILURE',
      bi_returns_bigint: 'FAILURE',
      bi_returns_circular: 'FAILURE',
      bi_returns_map: 'FAILURE',
      bi_letters: 'SUCCESS',
      'bi_map_item_on_b[a]': 'SUCCESS',
      'bi_map_item_on_b[b]': 'FAILURE',
      'bi_map_item_on_b[c]': 'SUCCESS',
      bi_fine: 'SUCCESS',
    });
    expect(await result.outputFor('bi_map_item_on_b')).toEqual(
      new Map([
        ['a', { seen: ['a'] }],
        ['c', { seen: ['c'] }],
      ]),
    );
    expect(await result.outputFor('bi_fine')).toBe('still here');
    const fix = 'Fix: return plain data (objects, arrays, strings, numbers, booleans, null).';
    const expected: Record<string, string> = {
      bi_returns_function: '$.callback is a function',
      bi_returns_bigint: '$.total is a BigInt, which JSON cannot carry (convert with String(x) or Number(x))',
      bi_returns_circular: '$.self is a circular reference',
      bi_returns_map: '$ is a Map, which JSON turns into {} (convert with Object.fromEntries or Array.from)',
      'bi_map_item_on_b[b]': '$.seen is a Set, which JSON turns into {} (convert with Object.fromEntries or Array.from)',
    };
    expect(result.failures.map((f) => f.stepKey).sort()).toEqual(Object.keys(expected).sort());
    for (const [stepKey, problem] of Object.entries(expected)) {
      const opName = stepKey.replace(/\[.*$/, '');
      expect(failureOf(result, stepKey)).toEqual({
        type: 'OpValidationError',
        message: `[bad_input_not_json ${stepKey}] op "${opName}" (step ${stepKey}) output "result" cannot travel as JSON: ${problem}. ${fix}`,
      });
    }
  });
});

// ─── non-Error throws ────────────────────────────────────────────────────────────────────────

const throwsString = op({ name: 'bi_throws_string', retryPolicy: new RetryPolicy({ maxRetries: 1 }) }, async () => {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the test
  throw 'disk full';
});
const throwsObject = op({ name: 'bi_throws_object' }, async () => {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the test
  throw { code: 42, reason: 'quota' };
});
const throwsUndefined = op({ name: 'bi_throws_undefined' }, async () => {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the test
  throw undefined;
});
const nonErrorThrows = badInputJob('bad_input_non_error_throws', () => {
  echo(throwsString());
  throwsObject();
  throwsUndefined();
  fine();
});

describe('an op throwing a non-Error', () => {
  it('a string, an object or undefined fails the step with the value shown and a fix; RetryPolicy still applies; the rest finishes', async () => {
    const result = await run(nonErrorThrows);
    expect(result.success).toBe(false);
    expect(result.stepStatuses()).toEqual({
      bi_throws_string: 'FAILURE',
      bi_echo: 'ABANDONED',
      bi_throws_object: 'FAILURE',
      bi_throws_undefined: 'FAILURE',
      bi_fine: 'SUCCESS',
    });
    expect(await result.outputFor('bi_fine')).toBe('still here');
    const fix = "Fix: throw new Error('…') so the message and stack trace are kept";
    expect(failureOf(result, 'bi_throws_string')).toEqual({
      type: 'OpUserError',
      message: `[bad_input_non_error_throws bi_throws_string] op "bi_throws_string" threw a non-Error value: "disk full". ${fix}`,
    });
    expect(failureOf(result, 'bi_throws_object').message).toBe(
      `[bad_input_non_error_throws bi_throws_object] op "bi_throws_object" threw a non-Error value: {"code":42,"reason":"quota"}. ${fix}`,
    );
    expect(failureOf(result, 'bi_throws_undefined').message).toBe(
      `[bad_input_non_error_throws bi_throws_undefined] op "bi_throws_undefined" threw a non-Error value: undefined. ${fix}`,
    );
    // A user-code failure like any other: retried per the op's RetryPolicy (1 retry → 2 attempts).
    expect(result.steps()['bi_throws_string']?.attempts).toBe(2);
    expect(result.steps()['bi_throws_object']?.attempts).toBe(1);
  });
});

// ─── Temporal's 2 MiB payload limit ──────────────────────────────────────────────────────────

const MiB = 1024 * 1024;

const hugeMessage = op({ name: 'bi_huge_message' }, async () => {
  throw new Error(`request failed: ${'m'.repeat(3 * MiB)}`);
});
const hugeError = badInputJob('bad_input_huge_error', () => {
  hugeMessage();
  fine();
});

const textLength = op({ name: 'bi_text_length' }, async (_ctx, text: string) => text.length);

/** 25 outputs of ~120 KB: each under the store threshold, ~3 MB together. */
const WIDE = Array.from({ length: 25 }, (_, i) => `o${i}`);
const wide = op({ name: 'bi_wide', out: Object.fromEntries(WIDE.map((name) => [name, new Out<string>()])) }, async () =>
  Object.fromEntries(WIDE.map((name, i) => [name, String(i % 10).repeat(120_000)])),
);
const manyOutputs = badInputJob('bad_input_many_outputs', () => {
  const outs = wide();
  textLength(outs.o7);
});
/** A fan-out list of 300 KB (inline on its own) next to two 100 KB outputs: the list is stored. */
const wideWithItems = op(
  { name: 'bi_wide_with_items', out: { items: new DynamicOut<string>(), left: new Out<string>(), right: new Out<string>() } },
  async () => ({
    items: ['x', 'y', 'z'].map((key) => new DynamicOutput(key.repeat(100_000), key)),
    left: 'l'.repeat(100_000),
    right: 'r'.repeat(100_000),
  }),
);
const manyOutputsWithItems = badInputJob('bad_input_many_outputs_items', () => {
  const outs = wideWithItems();
  sumAll(outs.items.map(textLength.alias('item_length')).collect());
  textLength.alias('left_length')(outs.left);
});

const hugeHeartbeat = op({ name: 'bi_huge_heartbeat', retryPolicy: new RetryPolicy({ maxRetries: 2 }) }, async (ctx) => {
  ctx.heartbeat({ log: 'h'.repeat(3 * MiB) });
  return 'unreachable';
});
const hugeHeartbeatJob = badInputJob('bad_input_huge_heartbeat', () => {
  hugeHeartbeat();
  fine();
});

const bigRunConfig = badInputJob('bad_input_big_run_config', () => {
  textLength();
});

/** 30 values of ~100 KB: each under the store threshold, ~3 MB together once collected. */
const thirtyKeys = op({ name: 'bi_thirty_keys', out: new DynamicOut<number>() }, async function* () {
  for (let i = 0; i < 30; i++) yield new DynamicOutput(i, `k${i}`);
});
const midSized = op({ name: 'bi_mid_sized' }, async (_ctx, i: number) => String(i % 10).repeat(100_000));
const totalLength = op({ name: 'bi_total_length' }, async (_ctx, texts: string[]) => texts.reduce((n, t) => n + t.length, 0));
const seed = op({ name: 'bi_seed' }, async () => 1);
const midSizedStatic = op({ name: 'bi_mid_sized_static' }, async (_ctx, i: number) => String(i % 10).repeat(100_000));
const collectMidSized = badInputJob('bad_input_collect_mid_sized', () => {
  totalLength(thirtyKeys().map(midSized).collect());
});
const fanInMidSized = badInputJob('bad_input_fan_in_mid_sized', () => {
  const s = seed();
  totalLength(Array.from({ length: 30 }, (_, i) => midSizedStatic.alias(`mid_${i}`)(s)));
});

describe("values over Temporal's 2 MiB payload limit", () => {
  it('an op throwing an Error with a 3 MiB message fails promptly with the message cut, instead of a stuck run', async () => {
    const started = Date.now();
    const result = await run(hugeError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.stepStatuses()).toEqual({ bi_huge_message: 'FAILURE', bi_fine: 'SUCCESS' });
    expect(await result.outputFor('bi_fine')).toBe('still here');
    const failure = failureOf(result, 'bi_huge_message');
    expect(failure.type).toBe('OpUserError');
    const head =
      '[bad_input_huge_error bi_huge_message] op "bi_huge_message" raised Error (at test/integration/bad-input.test.ts:506:9): request failed: ';
    expect(failure.message.startsWith(`${head}mmm`)).toBe(true);
    const fullLength = head.length + 3 * MiB;
    expect(failure.message).toMatch(
      new RegExp(` … \\[${fullLength - 8192} more characters cut: the text was ${fullLength} characters long\\]$`),
    );
    expect(failure.message.length).toBeLessThan(9_000);
  });

  it('an op whose outputs add up to ~3 MB (25 × 120 KB) succeeds: the largest go to the store, not into the history', async () => {
    const { run: launched, result } = await start(manyOutputs);
    expect(result.success).toBe(true);
    expect(await result.outputFor('bi_text_length')).toBe(120_000);
    for (const [i, name] of WIDE.entries()) expect(await result.outputFor('bi_wide', name)).toBe(String(i % 10).repeat(120_000));
    // Values under the 128 KiB store threshold may travel inline, but at most 256 KiB of one op's
    // result does: the history holds a fraction of the 3 MB.
    expect((await launched.handle.describe()).historySize).toBeLessThan(1 * MiB);

    const withItems = await run(manyOutputsWithItems);
    expect(withItems.success).toBe(true);
    expect(await withItems.outputFor('item_length')).toEqual(
      new Map([
        ['x', 100_000],
        ['y', 100_000],
        ['z', 100_000],
      ]),
    );
    expect(await withItems.outputFor('bi_sum')).toBe(300_000);
    expect(await withItems.outputFor('left_length')).toBe(100_000);
    expect(await withItems.outputFor('bi_wide_with_items', 'right')).toBe('r'.repeat(100_000));
    // The largest output (the 300 KB fan-out list) went to the store; the two 100 KB values stayed inline.
    const produced = withItems.steps()['bi_wide_with_items']?.outputs ?? [];
    expect(
      produced.map((o) => [
        o.name,
        o.kind === 'itemsRef' ? 'stored list' : o.kind === 'value' && typeof o.value === 'string' ? 'inline' : 'other',
      ]),
    ).toEqual([
      ['items', 'stored list'],
      ['left', 'inline'],
      ['right', 'inline'],
    ]);
  });

  it('heartbeat details of 3 MiB are refused with a clear, non-retried error for that step; the rest finishes', async () => {
    const result = await run(hugeHeartbeatJob);
    expect(result.stepStatuses()).toEqual({ bi_huge_heartbeat: 'FAILURE', bi_fine: 'SUCCESS' });
    expect(await result.outputFor('bi_fine')).toBe('still here');
    expect(failureOf(result, 'bi_huge_heartbeat')).toEqual({
      type: 'OpValidationError',
      message:
        '[bad_input_huge_heartbeat bi_huge_heartbeat] op "bi_huge_heartbeat" (step bi_huge_heartbeat) called ctx.heartbeat with details that are 3.0 MiB of JSON, over the 256.0 KiB limit for heartbeat details. Fix: heartbeat a small progress summary (e.g. { done: 120, total: 5000 }) and return large data as an output',
    });
    expect(result.steps()['bi_huge_heartbeat']?.attempts).toBe(1);
  });

  it('run config of 3 MiB is refused by launchRun, naming the largest entry and the fix; no workflow is created', async () => {
    const error = await expectRejectedBeforeStart(bigRunConfig, { ops: { bi_text_length: { inputs: { text: 'z'.repeat(3 * MiB) } } } });
    expect(error.issues).toEqual([
      {
        path: '(root)',
        message:
          'run config is 3.0 MiB of JSON, over the 128.0 KiB limit: it travels inside the start of every workflow of the run, and Temporal refuses payloads over 2 MiB. Largest: ops.bi_text_length.inputs.text (3.0 MiB)',
        fix: 'pass a path or URL and load the data inside the op, or produce the data with an upstream op (op outputs of any size go to the store)',
      },
    ]);
  });

  // BUG (src/workflows): the interpreter passes collected / fanned-in values inline in the consuming
  // activity's input. 30 values of 100 KB — each under the 128 KiB store threshold — make a 3 MB
  // input; the server rejects the ScheduleActivityTask command and terminates the run
  // ("BadScheduleActivityAttributes: ScheduleActivityTaskCommandAttributes.Input exceeds size limit").
  it('a collect of 30 values of 100 KB (3 MB together) reaches the consumer; the run is not terminated', async () => {
    const result = await run(collectMidSized);
    expect(result.runError, `run error: ${JSON.stringify(result.runError)}`).toBeUndefined();
    expect(result.success).toBe(true);
    expect(await result.outputFor('bi_total_length')).toBe(30 * 100_000);
  });

  it('a static fan-in of 30 values of 100 KB (3 MB together) reaches the consumer; the run is not terminated', async () => {
    const result = await run(fanInMidSized);
    expect(result.runError, `run error: ${JSON.stringify(result.runError)}`).toBeUndefined();
    expect(result.success).toBe(true);
    expect(await result.outputFor('bi_total_length')).toBe(30 * 100_000);
  });
});

// ─── unknown op / unknown job ────────────────────────────────────────────────────────────────

const plusOne = op({ name: 'bi_plus_one' }, async (_ctx, x: number) => x + 1);
const notOnWorker = op({ name: 'bi_not_on_worker' }, async (_ctx, x: number) => x * 100);
/** What the other worker was built with: shares bi_seed and bi_plus_one, lacks bi_not_on_worker. */
const workerJob = job({ name: 'bad_input_worker_job' }, () => {
  plusOne(seed());
});
const unknownOpJob = job({ name: 'bad_input_unknown_op' }, () => {
  const s = seed();
  plusOne(s);
  echo(notOnWorker(s));
});

/** One job name, two versions: the run starts on v1's plan; the worker has v2, whose op takes another input. */
const changedV1 = job({ name: 'bad_input_changed' }, () => {
  op({ name: 'bi_changed_op' }, async (_ctx, x: number) => x)(seed());
});
const changedV2 = job({ name: 'bad_input_changed' }, () => {
  op({ name: 'bi_changed_op' }, async (_ctx, x: number, y: number) => x + y)(seed(), seed.alias('bi_seed_2')());
});

describe('unknown op / unknown job', () => {
  let native: NativeConnection | undefined;
  afterAll(async () => native?.close());

  it('a worker that does not serve a job fails its steps at once, non-retryable, saying what to do, even for ops it has by name', async () => {
    native = await connectNative(inject('temporalAddress'));
    const sharedQueue = `bad-input-shared-${randomUUID()}`;
    const worker = await createWorker({
      definitions: new Definitions({ jobs: [workerJob] }),
      connection: native,
      taskQueue: sharedQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    const started = Date.now();
    const { launched, result } = await worker.runUntil(async () => {
      const launched = await launchRun(suite.harness.client, unknownOpJob, { taskQueue: sharedQueue });
      return { launched, result: await settle(launched, 15_000) };
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.success).toBe(false);
    // bi_seed is an op this worker has (for its own job): matched by job and node, it is not run for another job.
    expect(result.stepStatuses()).toEqual({
      bi_seed: 'FAILURE',
      bi_plus_one: 'ABANDONED',
      bi_not_on_worker: 'ABANDONED',
      bi_echo: 'ABANDONED',
    });
    expect(result.failures).toEqual([
      {
        stepKey: 'bi_seed',
        type: 'OpDefinitionError',
        message:
          'this worker does not serve job "bad_input_unknown_op" (step bi_seed of job "bad_input_unknown_op", op "bi_seed"); it serves: bad_input_worker_job. Fix: start the worker with Definitions that include job "bad_input_unknown_op"; every worker polling a task queue must have the same Definitions, so give workers of other jobs their own task queue.',
      },
    ]);
    // Scheduled once, failed as non-retryable: Temporal did not retry it.
    const events = (await launched.handle.fetchHistory()).events ?? [];
    const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'bi_seed');
    expect(scheduled).toHaveLength(1);
    const failed = events.filter((e) => e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type === 'OpDefinitionError');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.nonRetryable).toBe(true);
  });

  it('a worker whose op has other inputs than the run plan refuses that step (the run plan sends each node signature)', async () => {
    native ??= await connectNative(inject('temporalAddress'));
    const queue = `bad-input-changed-${randomUUID()}`;
    const worker = await createWorker({
      definitions: new Definitions({ jobs: [changedV2] }),
      connection: native,
      taskQueue: queue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    const result = await worker.runUntil(async () =>
      settle(await launchRun(suite.harness.client, changedV1, { taskQueue: queue }), 15_000),
    );
    expect(result.stepStatuses()).toEqual({ bi_seed: 'SUCCESS', bi_changed_op: 'FAILURE' });
    expect(result.failures[0]?.type).toBe('OpDefinitionError');
    expect(result.failures[0]?.message).toContain(
      'op "bi_changed_op" of job "bad_input_changed" on this worker is bi_changed_op(x, y) -> result, but the run\'s plan has bi_changed_op(x) -> result',
    );
  });

  it('Definitions.getJob with an unknown name lists the known jobs and says how to fix it', () => {
    const definitions = new Definitions({ jobs: [workerJob, unknownOpJob] });
    expect(() => definitions.getJob('bad_input_unknwn_op')).toThrow(
      'unknown job "bad_input_unknwn_op"; known jobs: bad_input_worker_job, bad_input_unknown_op. Check the name (job names are exact), or add the job to new Definitions({ jobs: [...] })',
    );
  });
});
