/**
 * The op runner (`runOp`) as a unit, inside @temporalio/testing's MockActivityEnvironment: no
 * server, no worker. Covers auto-heartbeats, cancellation, output and input validation, the
 * failure that crosses Temporal when op code throws, and how large outputs are fitted into the
 * activity result through the store.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runOp } from '../../src/activities/runOp.ts';
import { Definitions, DynamicOut, DynamicOutput, In, job, type JobDefinition, op, Out, RetryPolicy } from '../../src/dsl/index.ts';
import { readStepJournal } from '../../src/store/stepLogs.ts';
import type { OpTaskInput, OpTaskResult, TaskOutput } from '../../src/dsl/protocol.ts';
import {
  FileSystemStore,
  getDefaultStore,
  isStoredRef,
  loadItems,
  materialize,
  setDefaultStore,
  storeThreshold,
  type ValueStore,
} from '../../src/store/store.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the ops below report back to the test that runs them. */
const probe: { started?: () => void; sawAbort?: boolean } = {};

const heartbeats = op({ name: 'runop_heartbeats' }, async (ctx) => {
  await sleep(250);
  ctx.heartbeat({ done: 1, total: 2 });
  await sleep(350);
  return 'done';
});

const ignoresCancel = op({ name: 'runop_ignores_cancel' }, async (ctx) => {
  probe.started?.();
  await sleep(300);
  probe.sawAbort = ctx.signal.aborted;
  return 'finished anyway';
});

const throwsOnCancel = op({ name: 'runop_throws_on_cancel' }, async (ctx) => {
  probe.started?.();
  await new Promise<void>((_, reject) => {
    ctx.signal.addEventListener('abort', () => reject(new Error('stopped: the run was cancelled')));
  });
});

const plainFromDynamic = op({ name: 'runop_plain_from_dynamic', out: new DynamicOut() }, (async () => 5) as never);
const duplicateKey = op({ name: 'runop_duplicate_key', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 'a');
  yield new DynamicOutput(2, 'a');
});
const wrongType = op({ name: 'runop_wrong_type', out: new Out({ schema: z.number() }) }, async () => 'seven' as unknown as number);

class QuotaExceeded extends Error {}
const throwsRange = op({ name: 'runop_throws_range' }, async () => {
  throw new RangeError('x must be below 10');
});
const throwsCustom = op({ name: 'runop_throws_custom' }, async () => {
  throw new QuotaExceeded('quota of 5 calls used up');
});
const throwsString = op({ name: 'runop_throws_string' }, async () => {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the case under test
  throw 'boom';
});
const throwsHuge = op({ name: 'runop_throws_huge' }, async () => {
  throw new TypeError('y'.repeat(200_000));
});

const produceN = op({ name: 'runop_produce_n' }, async () => 7);
const typedInput = op({ name: 'runop_typed_input', ins: { n: new In({ schema: z.number().int() }) } }, async (_ctx, n: number) => n + 1);

const big = op({ name: 'runop_big' }, async () => 'b'.repeat(storeThreshold() + 1_000));
const K = 1000;
const midSized = op(
  {
    name: 'runop_mid_sized',
    out: { a: new Out<string>(), b: new Out<string>(), c: new Out<string>(), d: new Out<string>(), e: new Out<string>() },
  },
  async () => ({ a: 'a'.repeat(30 * K), b: 'b'.repeat(125 * K), c: 'c'.repeat(100 * K), d: 'd'.repeat(90 * K), e: 'e'.repeat(80 * K) }),
);
const bigFanOut = op({ name: 'runop_big_fan_out', out: new DynamicOut<string>() }, async function* () {
  for (let i = 0; i < 5; i++) yield new DynamicOutput(String(i).repeat(100 * K), String(i));
});

const numberKey = op({ name: 'runop_number_key', out: new DynamicOut<number>() }, async function* () {
  yield new DynamicOutput(1, 3 as unknown as string); // a key passed as a number
});

const chatty = op({ name: 'runop_chatty', retryPolicy: new RetryPolicy({ maxRetries: 1 }) }, async (ctx) => {
  for (let i = 1; i <= 250; i++) ctx.log.info(`line ${i}`, i === 250 ? { last: true } : undefined);
  throw new RangeError('after 250 lines');
});

const runOpJob = job({ name: 'runop_job' }, () => {
  numberKey();
  chatty();
  heartbeats();
  ignoresCancel();
  throwsOnCancel();
  plainFromDynamic();
  duplicateKey();
  wrongType();
  throwsRange();
  throwsCustom();
  throwsString();
  throwsHuge();
  typedInput(produceN());
  big();
  midSized();
  bigFanOut();
});
const definitions = new Definitions({ jobs: [runOpJob] });

/** The task the interpreter would send for a static node of the job. */
function task(definition: JobDefinition, node: string, overrides: Partial<OpTaskInput> = {}): OpTaskInput {
  const planNode = definition.plan.nodes.find((n) => n.id === node);
  if (!planNode) throw new Error(`job ${definition.name} has no node ${node}`);
  return {
    runId: 'run-1',
    job: definition.name,
    node,
    op: planNode.op,
    stepKey: node,
    mappingKeys: [],
    inputs: {},
    attempt: 1,
    ...overrides,
  };
}

const quiet = new DefaultLogger('ERROR');

function environment(heartbeatTimeoutMs = 1_000): MockActivityEnvironment {
  return new MockActivityEnvironment({ heartbeatTimeoutMs }, { logger: quiet });
}

function run(node: string, overrides: Partial<OpTaskInput> = {}, env = environment()): Promise<OpTaskResult> {
  return env.run(runOp, definitions, task(runOpJob, node, overrides));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (result) => {
      throw new Error(`expected a failure, got ${JSON.stringify(result).slice(0, 200)}`);
    },
    (err: unknown) => err,
  );
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('runOp: the step journal (per-step logs)', () => {
  it('records each attempt: its last 200 log lines (and how many were dropped), state, error, whether it is retried, where it ran', async () => {
    const runId = `journal-${Date.now()}`;
    await rejection(run('runop_chatty', { runId }));
    await rejection(run('runop_chatty', { runId, attempt: 2 }));
    const journal = await readStepJournal(getDefaultStore(), runId, 'runop_chatty');
    expect(journal?.attempts.map((a) => [a.attempt, a.state, a.willRetry ?? false, a.logs.length, a.droppedLines])).toEqual([
      [1, 'failed', true, 200, 50],
      [2, 'failed', false, 200, 50],
    ]);
    const first = journal?.attempts[0];
    expect(first?.logs[0]?.message).toBe('line 51');
    expect(first?.logs[199]).toMatchObject({ level: 'info', message: 'line 250', extra: '{"last":true}' });
    expect(first?.error).toMatchObject({ type: 'OpUserError', errorClass: 'RangeError' });
    expect(first?.error?.message).toContain('after 250 lines');
    expect(first?.activityId).toBeTypeOf('string');
    expect(first?.endedAt).toBeGreaterThanOrEqual(first?.startedAt ?? Infinity);
  });

  it('OPGRAPH_STEP_LOGS=0 writes none', async () => {
    const runId = `journal-off-${Date.now()}`;
    process.env.OPGRAPH_STEP_LOGS = '0';
    try {
      await rejection(run('runop_chatty', { runId }));
    } finally {
      delete process.env.OPGRAPH_STEP_LOGS;
    }
    expect(await readStepJournal(getDefaultStore(), runId, 'runop_chatty')).toBeUndefined();
  });
});

describe('runOp: auto-heartbeats', () => {
  it('beats well within the heartbeat timeout while the op runs, repeats ctx.heartbeat details, and stops when the op returns', async () => {
    const timeoutMs = 400;
    const env = environment(timeoutMs);
    const beats: { at: number; details: unknown }[] = [];
    env.on('heartbeat', (details: unknown) => beats.push({ at: Date.now(), details }));
    const started = Date.now();
    const result = await run('runop_heartbeats', {}, env);
    const finished = Date.now();
    expect(result).toEqual({ outputs: [{ kind: 'value', name: 'result', value: 'done' }] });

    const userBeat = beats.findIndex((b) => b.details !== undefined);
    expect(userBeat, 'the op called ctx.heartbeat(details)').toBeGreaterThanOrEqual(0);
    const before = beats.slice(0, userBeat);
    const after = beats.slice(userBeat + 1);
    // Automatic beats before the op reports anything carry no details…
    expect(before.length).toBeGreaterThanOrEqual(1);
    expect(before.every((b) => b.details === undefined)).toBe(true);
    // …and after it, they repeat its latest details instead of overwriting them.
    expect(after.length).toBeGreaterThanOrEqual(2);
    for (const beat of after) expect(beat.details).toEqual({ done: 1, total: 2 });
    // No silence as long as the heartbeat timeout: a live worker is never presumed dead.
    const times = [started, ...beats.map((b) => b.at), finished];
    const longestGap = Math.max(...times.slice(1).map((t, i) => t - (times[i] ?? t)));
    expect(longestGap).toBeLessThan(timeoutMs);

    const count = beats.length;
    await sleep(300);
    expect(beats.length, 'no heartbeats after the op returned').toBe(count);
  });
});

describe('runOp: cancellation', () => {
  it('an op that returns normally after its run was cancelled does not succeed: runOp rejects with the cancellation', async () => {
    const env = environment();
    probe.sawAbort = undefined;
    const started = new Promise<void>((resolve) => (probe.started = resolve));
    const running = run('runop_ignores_cancel', {}, env);
    await started;
    env.cancel();
    const err = await rejection(running);
    expect(probe.sawAbort, 'ctx.signal was aborted while the op ran').toBe(true);
    expect(err).toBeInstanceOf(CancelledFailure);
  });

  it('an op that throws when cancelled reports the cancellation, not a user error', async () => {
    const env = environment();
    const started = new Promise<void>((resolve) => (probe.started = resolve));
    const running = run('runop_throws_on_cancel', {}, env);
    await started;
    env.cancel();
    const err = await rejection(running);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
  });
});

describe('runOp: outputs that break the op contract are OpValidationError, never retried', () => {
  it('a DynamicOut op returning a plain value', async () => {
    const failure = await failureOf(run('runop_plain_from_dynamic'));
    expect(failure.type).toBe('OpValidationError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(
      '[runop_job runop_plain_from_dynamic] op "runop_plain_from_dynamic" (step runop_plain_from_dynamic) dynamic output "result" expected a list of DynamicOutput objects, but received a value of type number. Fix: return an array of new DynamicOutput(value, mappingKey), or make the op a generator that yields them.',
    );
  });

  it('a mapping key that is not a string: the message names the value it got', async () => {
    const failure = await failureOf(run('runop_number_key'));
    expect(failure.type).toBe('OpValidationError');
    expect(failure.message).toContain(
      `output "result": mapping key must be a string, got the number 3: pass a string, e.g. '3' (String(key))`,
    );
  });

  it('a mapping key yielded twice', async () => {
    const failure = await failureOf(run('runop_duplicate_key'));
    expect(failure.type).toBe('OpValidationError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('yielded a DynamicOutput with mapping_key "a" multiple times (output "result")');
  });

  it('an output failing its Out schema', async () => {
    const failure = await failureOf(run('runop_wrong_type'));
    expect(failure.type).toBe('OpValidationError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(
      'op "runop_wrong_type" (step runop_wrong_type) output "result" failed its schema: (value): Invalid input: expected number, received string',
    );
  });

  it('an input failing its In schema names the input and where its value came from', async () => {
    const failure = await failureOf(run('runop_typed_input', { inputs: { n: 'seven' } }));
    expect(failure.type).toBe('OpValidationError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(
      '[runop_job runop_typed_input] input "n" of op "runop_typed_input" failed its schema: (value): Invalid input: expected number, received string (received "seven", from output "result" of node "runop_produce_n"). Fix: make op node "runop_produce_n" produce valid values, or change the input\'s schema.',
    );
    // The same step with a valid input runs.
    expect(await run('runop_typed_input', { inputs: { n: 7 } })).toEqual({ outputs: [{ kind: 'value', name: 'result', value: 8 }] });
  });
});

describe('runOp: op code that throws becomes OpUserError (an OpExecutionError crossing Temporal)', () => {
  it('names the step key and the error, keeps the class name in details and the thrown error as cause', async () => {
    const failure = await failureOf(run('runop_throws_range', { stepKey: 'runop_throws_range[k1]', mappingKeys: ['k1'] }));
    expect(failure.type).toBe('OpUserError');
    expect(failure.nonRetryable).toBe(true);
    // Where the op threw, in the user's file (not in opgraph's runOp.ts): the message, the details and the stack say so.
    expect(failure.message).toBe(
      '[runop_job runop_throws_range[k1]] op "runop_throws_range" raised RangeError (at test/activities/runOp.test.ts:65:9): x must be below 10',
    );
    expect(failure.details).toEqual([
      {
        errorName: 'RangeError',
        errorClass: 'RangeError',
        location: 'test/activities/runOp.test.ts:65:9',
        stack: expect.stringContaining('RangeError: x must be below 10'),
      },
    ]);
    expect(failure.stack?.split('\n')[1]).toContain('test/activities/runOp.test.ts:65:9');
    const details = failure.details?.[0] as { stack: string };
    expect(details.stack, "the op's own stack trace").toContain('runOp.test.ts');
    // The cause chain: OpUserError ← the op's RangeError (as a failure typed with its class name).
    expect(failure.cause).toBeInstanceOf(ApplicationFailure);
    const cause = failure.cause as ApplicationFailure;
    expect(cause.type).toBe('RangeError');
    expect(cause.message).toBe('x must be below 10');
    expect(cause.stack).toBe(details.stack);
  });

  it('a custom error class is reported by its class name even when its `name` is plain "Error"', async () => {
    const failure = await failureOf(run('runop_throws_custom'));
    expect(failure.type).toBe('OpUserError');
    expect(failure.message).toBe(
      '[runop_job runop_throws_custom] op "runop_throws_custom" raised Error (at test/activities/runOp.test.ts:68:9): quota of 5 calls used up',
    );
    expect(failure.details?.[0]).toMatchObject({
      errorName: 'Error',
      errorClass: 'QuotaExceeded',
      location: 'test/activities/runOp.test.ts:68:9',
    });
    expect((failure.cause as ApplicationFailure).type).toBe('QuotaExceeded');
  });

  it('a thrown non-Error value: the message says how to fix it; no stack, no cause', async () => {
    const failure = await failureOf(run('runop_throws_string'));
    expect(failure.type).toBe('OpUserError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(
      `[runop_job runop_throws_string] op "runop_throws_string" threw a non-Error value: "boom". Fix: throw new Error('…') so the message and stack trace are kept`,
    );
    expect(failure.details).toEqual([{ errorName: 'string', errorClass: 'string', location: null, stack: null }]);
    expect(failure.cause).toBeUndefined();
  });

  it('a huge error message is cut, in the failure and in its cause, so the failure fits one Temporal payload', async () => {
    const failure = await failureOf(run('runop_throws_huge'));
    expect(failure.message.length).toBeLessThan(9 * 1024);
    expect(failure.message).toMatch(/… \[\d+ more characters cut: the text was \d+ characters long\]$/);
    const cause = failure.cause as ApplicationFailure;
    expect(cause.type).toBe('TypeError');
    expect(cause.message.length).toBeLessThan(9 * 1024);
    expect(JSON.stringify(failure.details).length).toBeLessThan(20 * 1024);
  });
});

describe('runOp: large outputs are fitted into the activity result through the store', () => {
  /** The op runner's limit for one activity result (RESULT_INLINE_LIMIT in src/activities/runOp.ts). */
  const RESULT_INLINE_LIMIT = 256 * 1024;
  let root: string;
  let previous: ValueStore;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'opgraph-runop-'));
    previous = getDefaultStore();
    setDefaultStore(new FileSystemStore(root));
  });
  afterAll(() => {
    setDefaultStore(previous);
    rmSync(root, { recursive: true, force: true });
  });

  const resultBytes = (result: OpTaskResult) => Buffer.byteLength(JSON.stringify(result));
  const valueOf = (output: TaskOutput | undefined): unknown => (output?.kind === 'value' ? output.value : undefined);

  it('a value over the store threshold comes back as a stored reference', async () => {
    const result = await run('runop_big');
    const value = valueOf(result.outputs[0]);
    expect(result.outputs[0]?.name).toBe('result');
    expect(value).toMatchObject({ $opgraphRef: 1, store: 'fs', bytes: storeThreshold() + 1_002 });
    if (!isStoredRef(value)) throw new Error('expected a stored reference');
    expect(existsSync(join(root, value.key)), 'stored under the configured store directory').toBe(true);
    expect(await materialize(value)).toBe('b'.repeat(storeThreshold() + 1_000));
    expect(resultBytes(result)).toBeLessThan(1024);
  });

  it('outputs each under the threshold but together over the result limit: the largest are stored until the rest fits', async () => {
    expect(125 * K + 2, 'each output alone stays inline').toBeLessThan(storeThreshold());
    const result = await run('runop_mid_sized');
    expect(result.outputs.map((o) => o.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const stored = result.outputs.filter((o) => isStoredRef(valueOf(o))).map((o) => o.name);
    // 30 + 125 + 100 + 90 + 80 KB: storing b (125) leaves 300 KB, storing c (100) too leaves 200 KB.
    // Declaration order would have stored a, b and c; smallest-first a, e, d and c.
    expect(stored).toEqual(['b', 'c']);
    expect(valueOf(result.outputs[0])).toBe('a'.repeat(30 * K));
    expect(valueOf(result.outputs[3])).toBe('d'.repeat(90 * K));
    expect(valueOf(result.outputs[4])).toBe('e'.repeat(80 * K));
    expect(await materialize(valueOf(result.outputs[1]))).toBe('b'.repeat(125 * K));
    expect(await materialize(valueOf(result.outputs[2]))).toBe('c'.repeat(100 * K));
    expect(resultBytes(result)).toBeLessThanOrEqual(RESULT_INLINE_LIMIT);
  });

  it('a fan-out whose item list is too large to return inline is stored whole, with its count', async () => {
    const result = await run('runop_big_fan_out');
    const [output] = result.outputs;
    if (output?.kind !== 'itemsRef') throw new Error(`expected a stored item list, got ${JSON.stringify(output).slice(0, 200)}`);
    expect(output).toMatchObject({ name: 'result', count: 5 });
    const items = await loadItems(output.itemsRef);
    expect(items.map(([key, value]) => [key, (value as string).length])).toEqual(['0', '1', '2', '3', '4'].map((key) => [key, 100 * K]));
    expect(resultBytes(result)).toBeLessThanOrEqual(RESULT_INLINE_LIMIT);
  });
});

describe('a step runs only on a worker that serves its job and node (issue 12: no op matched by name alone)', () => {
  // Another job with an op of the same name as one of runop_job's: the worker serves only runop_job.
  const otherHeartbeats = op({ name: 'runop_heartbeats' }, async () => 'the other job’s code');
  const otherJob = job({ name: 'runop_other_job' }, () => {
    otherHeartbeats();
  });

  it('refuses a step of a job this worker does not serve, even if an op of that name exists here', async () => {
    const failure = await failureOf(environment().run(runOp, definitions, task(otherJob, 'runop_heartbeats')));
    expect(failure.type).toBe('OpDefinitionError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('this worker does not serve job "runop_other_job" (step runop_heartbeats of job "runop_other_job"');
    expect(failure.message).toContain('it serves: runop_job');
  });

  it('refuses a node whose op differs from the run plan (code changed under a run in flight)', async () => {
    const failure = await failureOf(run('runop_big', { op: 'runop_renamed' }));
    expect(failure.type).toBe('OpDefinitionError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(
      'job "runop_job" runs op "runop_big" at node "runop_big", but the run\'s plan has op "runop_renamed"',
    );
  });

  it('refuses a step whose signature in the run plan differs from this worker’s; runs it when it matches or is absent', async () => {
    const failure = await failureOf(run('runop_heartbeats', { signature: 'runop_heartbeats(x) -> result' }));
    expect(failure.type).toBe('OpDefinitionError');
    expect(failure.message).toContain('op "runop_heartbeats" of job "runop_job" on this worker is runop_heartbeats() -> result');
    expect(failure.message).toContain("the run's plan has runop_heartbeats(x) -> result");
    expect((await run('runop_heartbeats', { signature: 'runop_heartbeats() -> result' })).outputs).toHaveLength(1);
    expect((await run('runop_heartbeats')).outputs).toHaveLength(1);
  });
});
