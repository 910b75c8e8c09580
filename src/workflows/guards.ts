/**
 * Shape checks for what reaches workflow code. Deliberately not zod: every module a workflow
 * imports is evaluated again for each workflow execution (module state is per workflow), and
 * loading zod and our schemas cost ~20 ms of worker CPU per child workflow (bench: child-mode
 * fan-out ran at 0.6× a hand-written baseline). Payloads are validated with zod on the Node side:
 * the client parses run config before starting a run, the op runner parses every task it gets and
 * builds every result it returns. These guards catch what can still arrive by hand (a run started
 * from the Temporal CLI or UI with the wrong input) with a clear message.
 *
 * Each guard accepts what its schema in src/dsl/protocol.ts accepts (test/dsl/guards.test.ts
 * holds them to it), with these deliberate differences:
 * - a job plan and run config are checked to be objects only: the client validated them, and
 *   checking every node costs each workflow execution;
 * - a value binding may lack `value`: JSON drops `value: undefined`, and a workflow sends its
 *   children such bindings itself;
 * - untagged records (histories and stores written before the `kind` tags) are accepted as they
 *   are, never rewritten: the schemas tag them while parsing, the guards only check them, and
 *   workflow code reads their kind through src/dsl/wire.ts. A guard returns its input unchanged
 *   (defaults such as a scope input's `stage` are not filled in).
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../dsl/constants.ts';
import type { BatchResult, OpTaskResult, ScopeResult, ShardResult, SliceResult, StoredRef, WorkflowInput } from '../dsl/protocol.ts';
import { outputKind, shardItemsKind } from '../dsl/wire.ts';

/** What is wrong with `value` (found at `at`), or undefined when it has the shape. */
type Check = (value: unknown, at: string) => string | undefined;

const where = (at: string) => (at === '' ? 'the value' : `"${at}"`);
const field = (at: string, key: string) => (at === '' ? key : `${at}.${key}`);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const string: Check = (v, at) => (typeof v === 'string' ? undefined : `${where(at)} should be a string`);
const boolean: Check = (v, at) => (typeof v === 'boolean' ? undefined : `${where(at)} should be a boolean`);
/** A safe integer (as zod's `.int()`), at least `min`. */
const int =
  (min = Number.NEGATIVE_INFINITY): Check =>
  (v, at) =>
    Number.isSafeInteger(v) && (v as number) >= min ? undefined : `${where(at)} should be an integer${min === 0 ? ' ≥ 0' : ''}`;
const oneOf =
  (...allowed: readonly unknown[]): Check =>
  (v, at) =>
    allowed.includes(v) ? undefined : `${where(at)} should be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
const optional =
  (check: Check): Check =>
  (v, at) =>
    v === undefined ? undefined : check(v, at);
const anyObject: Check = (v, at) => (isRecord(v) ? undefined : `${where(at)} should be an object`);

function arrayOf(item: Check): Check {
  return (v, at) => {
    if (!Array.isArray(v)) return `${where(at)} should be an array`;
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i], `${at}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  };
}

function recordOf(item: Check): Check {
  return (v, at) => {
    if (!isRecord(v)) return `${where(at)} should be an object`;
    for (const [key, x] of Object.entries(v)) {
      const problem = item(x, field(at, key));
      if (problem) return problem;
    }
    return undefined;
  };
}

/** An object with these fields (others are allowed, as zod strips them). */
function object(fields: Record<string, Check>): Check {
  const entries = Object.entries(fields);
  return (v, at) => {
    if (!isRecord(v)) return `${where(at)} should be an object`;
    for (const [key, check] of entries) {
      const problem = check(v[key], field(at, key));
      if (problem) return problem;
    }
    return undefined;
  };
}

/** A field that must be present, whatever its value (zod: a required `z.unknown()`). */
const present = (v: Record<string, unknown>, key: string, at: string) => (key in v ? undefined : `${where(field(at, key))} is missing`);

const items: Check = arrayOf((v, at) =>
  Array.isArray(v) && v.length === 2 ? string(v[0], `${at}[0]`) : `${where(at)} should be a [key, value] pair`,
);

const storedRef = object({ $opgraphRef: oneOf(1), store: string, key: string, bytes: int(0), sha256: string });

const stepError = object({ type: string, message: string, errorClass: optional(string) });

/** A step output, tagged or (from an older history or store) untagged. */
const taskOutput: Check = (v, at) => {
  if (!isRecord(v)) return `${where(at)} should be an object`;
  const kind = outputKind(v);
  if (kind === undefined)
    return `${where(at)} has no valid "kind" (value, items or itemsRef) and none of the fields value, items, itemsRef`;
  const problem = string(v.name, field(at, 'name'));
  if (problem) return problem;
  if (kind === 'value') return present(v, 'value', at);
  if (kind === 'items') return items(v.items, field(at, 'items'));
  return storedRef(v.itemsRef, field(at, 'itemsRef')) ?? int(0)(v.count, field(at, 'count'));
};

const stepRecord = object({
  node: string,
  mappingKeys: arrayOf(string),
  status: oneOf('SUCCESS', 'FAILURE', 'SKIPPED', 'ABANDONED'),
  outputs: optional(arrayOf(taskOutput)),
  error: optional(stepError),
  attempts: optional(int()),
  reused: optional(boolean),
  tolerated: optional(oneOf(true)),
});

const stepFailureRef = object({ stepKey: string, error: stepError, tolerated: optional(oneOf(true)) });

const scopeResult = object({
  steps: recordOf(stepRecord),
  parts: optional(arrayOf(storedRef)),
  failures: optional(arrayOf(stepFailureRef)),
});

const binding: Check = (v, at) => {
  if (!isRecord(v)) return `${where(at)} should be an object`;
  if (v.state === 'value' || v.state === 'missing') return undefined;
  if (v.state === 'abandoned') return string(v.reason, field(at, 'reason'));
  return `${where(field(at, 'state'))} should be one of "value", "missing", "abandoned"`;
};

/** A shard's items, tagged or (from an older history) untagged. */
const shardItems: Check = (v, at) => {
  if (!isRecord(v)) return `${where(at)} should be an object`;
  const kind = shardItemsKind(v);
  if (kind === undefined) return `${where(at)} has no valid "kind" (inline or ref) and neither of the fields inline, ref`;
  return kind === 'inline' ? items(v.inline, field(at, 'inline')) : storedRef(v.ref, field(at, 'ref'));
};

/** A positive safe integer (as zod's `.int().positive()`). */
const positiveInt: Check = (v, at) => (Number.isSafeInteger(v) && (v as number) > 0 ? undefined : `${where(at)} should be an integer ≥ 1`);

/** Map controls per dimension id (a child's or shard's start state, and the signal that forwards changes). */
const mapControls = recordOf(object({ paused: boolean, maxConcurrency: optional(positiveInt) }));

const runFields = { runId: string, searchAttributes: optional(boolean), plan: anyObject, runConfig: anyObject };

const reusedChunk = object({ dim: string, first: string, last: string, ref: storedRef });
const reexecution = object({ parentWorkflowId: string, parentRunId: string, chunks: arrayOf(reusedChunk) });
const jobInput = object({ ...runFields, taskQueue: optional(string), reexecution: optional(reexecution) });
const scopeInput = object({
  ...runFields,
  dim: arrayOf(string),
  keys: arrayOf(string),
  bindings: recordOf(binding),
  stage: optional(int(0)),
  prior: optional(recordOf(stepRecord)),
  priorParts: optional(arrayOf(storedRef)),
  reused: optional(arrayOf(reusedChunk)),
  reusedParts: optional(arrayOf(storedRef)),
  controls: optional(mapControls),
});
const shardInput = object({
  ...runFields,
  dim: arrayOf(string),
  outerKeys: arrayOf(string),
  source: object({ node: string, output: string }),
  stage: int(0),
  start: int(0),
  end: int(0),
  items: shardItems,
  bindings: recordOf(binding),
  priorParts: arrayOf(storedRef),
  priorNodes: arrayOf(string),
  reusedParts: optional(arrayOf(storedRef)),
  controls: optional(mapControls),
});

const nodeSummary = object({ statuses: recordOf(int()), produced: recordOf(int()) });

const opTaskResult = object({ outputs: arrayOf(taskOutput) });
const shardResult = object({
  parts: arrayOf(storedRef),
  keys: int(0),
  nodes: recordOf(nodeSummary),
  failures: arrayOf(stepFailureRef),
  failedKeys: optional(int(0)),
});
const batchResult = object({ results: arrayOf(scopeResult) });
const sliceResult = object({ items, prior: recordOf(stepRecord) });

function check<T>(value: unknown, shape: Check, what: string): T {
  const problem = shape(value, '');
  if (problem) throw ApplicationFailure.nonRetryable(`${what} is malformed: ${problem}`, FailureType.Definition);
  return value as T;
}

export function workflowInputOf(raw: unknown): WorkflowInput {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  const hint = ' Start runs with launchRun()/runJob() or the opgraph CLI, which build and validate this input.';
  if (kind === 'job') return check(raw, jobInput, `opgraph job input.${hint}`);
  if (kind === 'scope') return check(raw, scopeInput, `opgraph scope input.${hint}`);
  if (kind === 'shard') return check(raw, shardInput, `opgraph shard input.${hint}`);
  throw ApplicationFailure.nonRetryable(`opgraph workflow input has no valid "kind" (job, scope or shard).${hint}`, FailureType.Definition);
}

export const opTaskResultOf = (raw: unknown): OpTaskResult => check(raw, opTaskResult, 'op result');
export const scopeResultOf = (raw: unknown): ScopeResult => check(raw, scopeResult, 'scope result');
export const isScopeResult = (raw: unknown): raw is ScopeResult => scopeResult(raw, '') === undefined;
export const shardResultOf = (raw: unknown): ShardResult => check(raw, shardResult, 'shard result');
export const batchResultOf = (raw: unknown): BatchResult => check(raw, batchResult, 'batch result');
export const storedRefOf = (raw: unknown): StoredRef => check(raw, storedRef, 'stored reference');
export const sliceResultOf = (raw: unknown): SliceResult => check(raw, sliceResult, 'slice result');
/** A forwarded map control (a signal): what is wrong with it, or undefined when it has the shape. */
export const mapControlsProblem = (raw: unknown): string | undefined => mapControls(raw, '');
