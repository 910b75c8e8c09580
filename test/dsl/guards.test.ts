/**
 * The workflow code's hand-written shape guards (src/workflows/guards.ts) against the zod schemas
 * they stand in for (src/dsl/protocol.ts): on every sample below, guard and schema both accept or
 * both reject. Pure: no server.
 *
 * Out of scope, by design (src/workflows/guards.ts says why), and pinned under "deliberate
 * differences" so the list stays true:
 * - the insides of a job plan and run config (the guards check they are objects);
 * - a value binding without `value` (what JSON makes of `value: undefined`).
 * Also out of scope: values JSON cannot carry (undefined inside arrays, NaN, Date, Map): every
 * payload reaches a workflow as JSON. And what an accepted value looks like afterwards: zod strips
 * unknown fields, fills defaults and tags legacy records, a guard returns its input unchanged.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { dynamicGraph } from '../../examples/dynamic-graph.ts';
import { resolveRunConfig } from '../../src/dsl/index.ts';
import { BatchResult, OpTaskResult, ScopeResult, ShardResult, SliceResult, StoredRef, WorkflowInput } from '../../src/dsl/protocol.ts';
import {
  batchResultOf,
  isScopeResult,
  opTaskResultOf,
  scopeResultOf,
  shardResultOf,
  sliceResultOf,
  storedRefOf,
  workflowInputOf,
} from '../../src/workflows/guards.ts';

type Guard = (raw: unknown) => unknown;

/** Whether the guard accepts `value`: it returns (or is true), or throws its non-retryable Definition failure. */
function guardAccepts(guard: Guard, value: unknown): boolean {
  try {
    const out = guard(value);
    return out !== false;
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === 'OpDefinitionError' && err.nonRetryable) return false;
    throw err;
  }
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

// ─── samples ─────────────────────────────────────────────────────────────────────────────────

const ref = { $opgraphRef: 1, store: 'fs', key: 'ab/abcdef.json', bytes: 1234, sha256: 'abcdef' };

const refSamples = {
  valid: { ref, 'zero bytes': { ...ref, bytes: 0 }, 'an extra field': { ...ref, note: 'x' } },
  invalid: {
    null: null,
    'a string': 'ab/abcdef.json',
    'an array': [ref],
    '$opgraphRef 2': { ...ref, $opgraphRef: 2 },
    'no $opgraphRef': { ...ref, $opgraphRef: undefined },
    'no store': { ...ref, store: undefined },
    'no key': { ...ref, key: undefined },
    'key a number': { ...ref, key: 7 },
    'bytes negative': { ...ref, bytes: -1 },
    'bytes fractional': { ...ref, bytes: 1.5 },
    'bytes a string': { ...ref, bytes: '1234' },
    'no sha256': { ...ref, sha256: undefined },
  },
};

const outputSamples = {
  valid: {
    'tagged value': { kind: 'value', name: 'result', value: { a: 1 } },
    'tagged null value': { kind: 'value', name: 'result', value: null },
    'legacy value': { name: 'result', value: [1, 2] },
    'legacy null value': { name: 'result', value: null },
    'tagged items': {
      kind: 'items',
      name: 'result',
      items: [
        ['a', 1],
        ['b', null],
      ],
    },
    'tagged empty items': { kind: 'items', name: 'result', items: [] },
    'legacy items': { name: 'result', items: [['0', [0, 1]]] },
    'tagged itemsRef': { kind: 'itemsRef', name: 'result', itemsRef: ref, count: 3 },
    'legacy itemsRef': { name: 'result', itemsRef: ref, count: 0 },
    'legacy with value and items (value wins, as in the untagged union)': { name: 'result', value: 1, items: 'ignored' },
  },
  invalid: {
    null: null,
    'a string': 'result',
    'an array': [['result', 1]],
    'unknown kind': { kind: 'list', name: 'result', value: 1 },
    'kind null': { kind: null, name: 'result', value: 1 },
    'kind a number': { kind: 1, name: 'result', value: 1 },
    'kind items with a value': { kind: 'items', name: 'result', value: 1 },
    'kind value without value': { kind: 'value', name: 'result' },
    'kind itemsRef with items': { kind: 'itemsRef', name: 'result', items: [] },
    'legacy with no payload field': { name: 'result' },
    'no name': { kind: 'value', value: 1 },
    'legacy, no name': { value: 1 },
    'name a number': { kind: 'value', name: 3, value: 1 },
    'items not an array': { kind: 'items', name: 'result', items: { a: 1 } },
    'legacy items not an array': { name: 'result', items: 'a' },
    'an item of one element': { kind: 'items', name: 'result', items: [['a']] },
    'an item of three elements': { kind: 'items', name: 'result', items: [['a', 1, 2]] },
    'an item with a number key': { kind: 'items', name: 'result', items: [[1, 'a']] },
    'an item not a pair': { name: 'result', items: ['a'] },
    'itemsRef without count': { kind: 'itemsRef', name: 'result', itemsRef: ref },
    'legacy itemsRef, negative count': { name: 'result', itemsRef: ref, count: -1 },
    'itemsRef, fractional count': { kind: 'itemsRef', name: 'result', itemsRef: ref, count: 1.5 },
    'itemsRef not a reference': { kind: 'itemsRef', name: 'result', itemsRef: { ...ref, sha256: 1 }, count: 1 },
  },
};

const record = {
  node: 'compute_piece',
  mappingKeys: ['0'],
  status: 'SUCCESS',
  outputs: [outputSamples.valid['legacy value']],
  attempts: 1,
};

const recordSamples = {
  valid: {
    'legacy outputs': record,
    'tagged outputs': { ...record, outputs: [outputSamples.valid['tagged value'], outputSamples.valid['tagged itemsRef']] },
    'mixed outputs': { ...record, outputs: Object.values(outputSamples.valid) },
    'no outputs': { node: 'n', mappingKeys: [], status: 'SKIPPED' },
    failed: { node: 'n', mappingKeys: [], status: 'FAILURE', error: { type: 'OpUserError', message: 'boom' }, attempts: 3 },
    'failed with the error class': {
      node: 'n',
      mappingKeys: [],
      status: 'FAILURE',
      error: { type: 'OpUserError', message: 'boom', errorClass: 'RangeError' },
    },
    abandoned: { node: 'n', mappingKeys: ['a', 'b'], status: 'ABANDONED' },
  },
  invalid: {
    'an unknown status': { ...record, status: 'DONE' },
    'no status': { ...record, status: undefined },
    'no node': { ...record, node: undefined },
    'a number mapping key': { ...record, mappingKeys: [0] },
    'mappingKeys a string': { ...record, mappingKeys: '0' },
    'outputs not an array': { ...record, outputs: outputSamples.valid['legacy value'] },
    'an output of unknown kind': { ...record, outputs: [outputSamples.invalid['unknown kind']] },
    'a legacy output with no payload': { ...record, outputs: [outputSamples.invalid['legacy with no payload field']] },
    'an error without message': { ...record, status: 'FAILURE', error: { type: 'OpUserError' } },
    'an error class not a string': { ...record, status: 'FAILURE', error: { type: 'OpUserError', message: 'boom', errorClass: 1 } },
    'fractional attempts': { ...record, attempts: 1.5 },
    'attempts a string': { ...record, attempts: '1' },
  },
};

const scopeSamples = {
  valid: {
    'one step': { steps: { 'compute_piece[0]': record } },
    'no steps': { steps: {} },
    'with parts and failures': {
      steps: { 'compute_piece[0]': recordSamples.valid['tagged outputs'] },
      parts: [ref],
      failures: [{ stepKey: 'compute_piece[7]', error: { type: 'OpUserError', message: 'boom' } }],
    },
  },
  invalid: {
    null: null,
    'no steps': { parts: [] },
    'steps an array': { steps: [record] },
    'parts not references': { steps: {}, parts: ['ab/abcdef.json'] },
    'a failure without error': { steps: {}, failures: [{ stepKey: 'x' }] },
    'a failure with a bad error': { steps: {}, failures: [{ stepKey: 'x', error: { type: 1, message: '' } }] },
    ...Object.fromEntries(
      Object.entries(recordSamples.invalid).map(([label, r]) => [`a step with ${label}`, { steps: { 'compute_piece[0]': r } }]),
    ),
  },
};

const shardResult = {
  parts: [ref],
  keys: 3,
  nodes: { compute_piece: { statuses: { SUCCESS: 2, FAILURE: 1 }, produced: { result: 2 } } },
  failures: [{ stepKey: 'compute_piece[2]', error: { type: 'OpUserError', message: 'boom' } }],
};

const shardResultSamples = {
  valid: { 'a summary': shardResult, empty: { parts: [], keys: 0, nodes: {}, failures: [] } },
  invalid: {
    null: null,
    'no parts': { ...shardResult, parts: undefined },
    'a bad part': { ...shardResult, parts: [{ ...ref, bytes: -1 }] },
    'negative keys': { ...shardResult, keys: -1 },
    'fractional keys': { ...shardResult, keys: 1.5 },
    'keys a string': { ...shardResult, keys: '3' },
    'no nodes': { ...shardResult, nodes: undefined },
    'a status count a string': { ...shardResult, nodes: { n: { statuses: { SUCCESS: '2' }, produced: {} } } },
    'a summary without produced': { ...shardResult, nodes: { n: { statuses: {} } } },
    'no failures': { ...shardResult, failures: undefined },
    'a failure without stepKey': { ...shardResult, failures: [{ error: { type: 'E', message: '' } }] },
  },
};

const batchSamples = {
  valid: {
    'scope results': { results: Object.values(scopeSamples.valid) },
    'no results': { results: [] },
  },
  invalid: {
    null: null,
    'no results': {},
    'results an object': { results: scopeSamples.valid['one step'] },
    'a bad scope result': { results: [scopeSamples.valid['one step'], scopeSamples.invalid['steps an array']] },
    'a bad step record': { results: [{ steps: { x: recordSamples.invalid['an unknown status'] } }] },
  },
};

const sliceSamples = {
  valid: {
    'items and prior': {
      items: [
        ['0', [0, 1]],
        ['1', ref],
      ],
      prior: { 'compute_piece[0]': record },
    },
    empty: { items: [], prior: {} },
    'tagged prior': { items: [], prior: { 'compute_piece[0]': recordSamples.valid['tagged outputs'] } },
  },
  invalid: {
    null: null,
    'no items': { prior: {} },
    'no prior': { items: [] },
    'an item not a pair': { items: [['0']], prior: {} },
    'an item with a number key': { items: [[0, 1]], prior: {} },
    'prior an array': { items: [], prior: [record] },
    'a bad prior record': { items: [], prior: { x: recordSamples.invalid['an output of unknown kind'] } },
  },
};

const plan = clone(dynamicGraph.plan);
const runConfig = clone(resolveRunConfig(dynamicGraph));
const run = { runId: 'run-1', plan, runConfig };
const dim = 'load_pieces:result';
const job = { kind: 'job', ...run };
const scope = {
  kind: 'scope',
  ...run,
  searchAttributes: false,
  dim: [dim],
  keys: ['0'],
  bindings: {
    [dim]: { state: 'value', value: [0, 1] },
    'other:result': { state: 'missing' },
    'gone:result': { state: 'abandoned', reason: '[gone] failed' },
  },
  stage: 0,
  prior: { 'compute_piece[0]': record },
};
const inline = [
  ['0', [0, 1]],
  ['1', [2, 3]],
];
const shard = {
  kind: 'shard',
  ...run,
  dim: [dim],
  outerKeys: [],
  source: { node: 'load_pieces', output: 'result' },
  stage: 0,
  start: 0,
  end: 2,
  items: { kind: 'inline', inline },
  bindings: {},
  priorParts: [ref],
  priorNodes: ['compute_piece'],
};

const inputSamples = {
  valid: {
    job,
    'job with searchAttributes and taskQueue': { ...job, searchAttributes: true, taskQueue: 'q' },
    scope,
    'scope without stage and prior (defaults)': { ...scope, stage: undefined, prior: undefined },
    'scope with tagged prior': { ...scope, prior: { 'compute_piece[0]': recordSamples.valid['tagged outputs'] } },
    'shard, tagged inline items': shard,
    'shard, legacy inline items': { ...shard, items: { inline } },
    'shard, tagged stored items': { ...shard, items: { kind: 'ref', ref } },
    'shard, legacy stored items': { ...shard, items: { ref } },
    'scope with map controls': { ...scope, controls: { 'inner:result': { paused: true } } },
    'shard with a resized map': { ...shard, controls: { [dim]: { paused: false, maxConcurrency: 3 } } },
    'shard with no controls': { ...shard, controls: {} },
  },
  invalid: {
    null: null,
    'a string': 'job',
    'no kind': { ...run },
    'an unknown kind': { ...job, kind: 'jobs' },
    'job without runId': { ...job, runId: undefined },
    'job with a number runId': { ...job, runId: 1 },
    'job without plan': { ...job, plan: undefined },
    'job with a plan array': { ...job, plan: [plan] },
    'job without runConfig': { ...job, runConfig: undefined },
    'job with a string searchAttributes': { ...job, searchAttributes: 'yes' },
    'job with a number taskQueue': { ...job, taskQueue: 1 },
    'scope without dim': { ...scope, dim: undefined },
    'scope with a number key': { ...scope, keys: [0] },
    'scope without bindings': { ...scope, bindings: undefined },
    'scope with an unknown binding state': { ...scope, bindings: { x: { state: 'gone' } } },
    'scope with an abandoned binding without reason': { ...scope, bindings: { x: { state: 'abandoned' } } },
    'scope with a binding not an object': { ...scope, bindings: { x: 1 } },
    'scope with a negative stage': { ...scope, stage: -1 },
    'scope with a fractional stage': { ...scope, stage: 0.5 },
    'scope with a bad prior record': { ...scope, prior: { x: recordSamples.invalid['an unknown status'] } },
    'shard without items': { ...shard, items: undefined },
    'shard with items of unknown kind': { ...shard, items: { kind: 'stored', ref } },
    'shard with items kind null': { ...shard, items: { kind: null, inline } },
    'shard with items of neither shape': { ...shard, items: { list: inline } },
    'shard with kind ref but inline items': { ...shard, items: { kind: 'ref', inline } },
    'shard with kind inline but a reference': { ...shard, items: { kind: 'inline', ref } },
    'shard with legacy items not pairs': { ...shard, items: { inline: [['0']] } },
    'shard with a bad stored list': { ...shard, items: { ref: { ...ref, store: 1 } } },
    'shard without stage': { ...shard, stage: undefined },
    'shard with a negative start': { ...shard, start: -1 },
    'shard without end': { ...shard, end: undefined },
    'shard with a source without output': { ...shard, source: { node: 'load_pieces' } },
    'shard with a bad prior part': { ...shard, priorParts: [{ key: 'x' }] },
    'shard without priorNodes': { ...shard, priorNodes: undefined },
    'scope with controls not an object': { ...scope, controls: [{ paused: true }] },
    'scope with a control without paused': { ...scope, controls: { [dim]: { maxConcurrency: 3 } } },
    'shard with a zero window': { ...shard, controls: { [dim]: { paused: false, maxConcurrency: 0 } } },
    'shard with a fractional window': { ...shard, controls: { [dim]: { paused: true, maxConcurrency: 1.5 } } },
    'shard with paused a string': { ...shard, controls: { [dim]: { paused: 'yes' } } },
  },
};

// ─── the pairs ───────────────────────────────────────────────────────────────────────────────

interface Pair {
  guard: string;
  check: Guard;
  schema: z.ZodType;
  samples: { valid: Record<string, unknown>; invalid: Record<string, unknown> };
}

const pairs: Pair[] = [
  { guard: 'workflowInputOf', check: workflowInputOf, schema: WorkflowInput, samples: inputSamples },
  {
    guard: 'opTaskResultOf',
    check: opTaskResultOf,
    schema: OpTaskResult,
    samples: {
      valid: {
        'no outputs': { outputs: [] },
        ...wrap(outputSamples.valid, (o) => ({ outputs: [o] })),
        'every kind': { outputs: Object.values(outputSamples.valid) },
      },
      invalid: {
        null: null,
        'no outputs': {},
        'outputs an object': { outputs: outputSamples.valid['legacy value'] },
        ...wrap(outputSamples.invalid, (o) => ({ outputs: [outputSamples.valid['tagged value'], o] })),
      },
    },
  },
  { guard: 'scopeResultOf', check: scopeResultOf, schema: ScopeResult, samples: scopeSamples },
  { guard: 'isScopeResult', check: isScopeResult, schema: ScopeResult, samples: scopeSamples },
  { guard: 'shardResultOf', check: shardResultOf, schema: ShardResult, samples: shardResultSamples },
  { guard: 'batchResultOf', check: batchResultOf, schema: BatchResult, samples: batchSamples },
  { guard: 'storedRefOf', check: storedRefOf, schema: StoredRef, samples: refSamples },
  { guard: 'sliceResultOf', check: sliceResultOf, schema: SliceResult, samples: sliceSamples },
];

function wrap(samples: Record<string, unknown>, f: (sample: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(samples).map(([label, sample]) => [`an output: ${label}`, f(sample)]));
}

describe.each(pairs)('$guard agrees with its zod schema', ({ check, schema, samples }) => {
  // As a workflow gets them: through JSON (undefined fields are dropped).
  const valid = Object.entries(samples.valid).map(([label, sample]) => [label, clone(sample)] as const);
  const invalid = Object.entries(samples.invalid).map(([label, sample]) => [label, sample === undefined ? sample : clone(sample)] as const);

  it.each(valid)('accepts %s', (_label, sample) => {
    expect(schema.safeParse(sample).success, 'zod').toBe(true);
    expect(guardAccepts(check, sample), 'guard').toBe(true);
  });

  it.each(invalid)('rejects %s', (_label, sample) => {
    expect(schema.safeParse(sample).success, 'zod').toBe(false);
    expect(guardAccepts(check, sample), 'guard').toBe(false);
  });

  it('returns what it accepted unchanged (legacy records stay untagged)', () => {
    for (const [, sample] of valid) {
      const before = JSON.stringify(sample);
      const out = check(sample);
      if (typeof out !== 'boolean') expect(out).toBe(sample);
      expect(JSON.stringify(sample)).toBe(before);
    }
  });
});

describe('deliberate differences (src/workflows/guards.ts)', () => {
  it('the insides of a plan and run config are left to the client: the guard checks they are objects', () => {
    for (const sample of [
      { ...job, plan: { nodes: 'not a list' } },
      { ...job, runConfig: { load_pieces: 'not a node config' } },
    ]) {
      expect(WorkflowInput.safeParse(sample).success).toBe(false);
      expect(guardAccepts(workflowInputOf, sample)).toBe(true);
    }
  });

  it('a value binding without `value` (JSON of `value: undefined`) reaches a child as the workflow sent it', () => {
    const sample = clone({ ...scope, bindings: { [dim]: { state: 'value', value: undefined } } });
    expect(sample.bindings[dim]).toEqual({ state: 'value' });
    expect(WorkflowInput.safeParse(sample).success).toBe(false);
    expect(guardAccepts(workflowInputOf, sample)).toBe(true);
  });
});

describe('guard messages', () => {
  it('say where the problem is', () => {
    expect(() =>
      opTaskResultOf({
        outputs: [
          { kind: 'value', name: 'a', value: 1 },
          { kind: 'list', name: 'b' },
        ],
      }),
    ).toThrow(/op result is malformed: "outputs\[1\]" has no valid "kind"/);
    expect(() => scopeResultOf({ steps: { 'a[0]': { ...record, mappingKeys: [0] } } })).toThrow(
      /scope result is malformed: "steps\.a\[0\]\.mappingKeys\[0\]" should be a string/,
    );
    expect(() => workflowInputOf({ ...shard, items: { kind: 'stored', ref } })).toThrow(
      /opgraph shard input\..*"items" has no valid "kind" \(inline or ref\)/,
    );
    expect(() => workflowInputOf({ ...run })).toThrow(/no valid "kind" \(job, scope or shard\)/);
  });
});
