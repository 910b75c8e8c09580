/**
 * Shape checks for what reaches workflow code. Deliberately not zod: every module a workflow
 * imports is evaluated again for each workflow execution (module state is per workflow), and
 * loading zod and our schemas cost ~20 ms of worker CPU per child workflow (bench: child-mode
 * fan-out ran at 0.6× a hand-written baseline). Payloads are validated with zod on the Node side:
 * the client parses run config before starting a run, the op runner parses every task it gets and
 * builds every result it returns. These guards catch what can still arrive by hand (a run started
 * from the Temporal CLI or UI with the wrong input) with a clear message.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../dsl/constants.ts';
import type {
  BatchResult,
  OpTaskResult,
  ScopeResult,
  ShardResult,
  SliceResult,
  StoredRef,
  WorkflowInput,
} from '../dsl/protocol.ts';

type Shape = Record<string, 'string' | 'number' | 'object' | 'array'>;

function check<T>(value: unknown, shape: Shape, what: string): T {
  const problem = shapeProblem(value, shape);
  if (problem) throw ApplicationFailure.nonRetryable(`${what} is malformed: ${problem}`, FailureType.Definition);
  return value as T;
}

function shapeProblem(value: unknown, shape: Shape): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `expected an object, got ${JSON.stringify(value)?.slice(0, 80)}`;
  const record = value as Record<string, unknown>;
  for (const [key, kind] of Object.entries(shape)) {
    const field = record[key];
    const ok = kind === 'array' ? Array.isArray(field) : kind === 'object' ? typeof field === 'object' && field !== null : typeof field === kind;
    if (!ok) return `field "${key}" should be ${kind === 'array' ? 'an array' : `a ${kind}`}`;
  }
  return undefined;
}

const RUN_FIELDS: Shape = { runId: 'string', plan: 'object', runConfig: 'object' };

export function workflowInputOf(raw: unknown): WorkflowInput {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  const hint = ' Start runs with launchRun()/runJob() or the opgraph CLI, which build and validate this input.';
  if (kind === 'job') return check(raw, RUN_FIELDS, `opgraph job input.${hint}`);
  if (kind === 'scope') return check(raw, { ...RUN_FIELDS, dim: 'array', keys: 'array', bindings: 'object' }, `opgraph scope input.${hint}`);
  if (kind === 'shard') return check(raw, { ...RUN_FIELDS, dim: 'array', outerKeys: 'array', items: 'object' }, `opgraph shard input.${hint}`);
  throw ApplicationFailure.nonRetryable(`opgraph workflow input has no valid "kind" (job, scope or shard).${hint}`, FailureType.Definition);
}

export const opTaskResultOf = (raw: unknown): OpTaskResult => check(raw, { outputs: 'array' }, 'op result');
export const scopeResultOf = (raw: unknown): ScopeResult => check(raw, { steps: 'object' }, 'scope result');
export const isScopeResult = (raw: unknown): raw is ScopeResult => shapeProblem(raw, { steps: 'object' }) === undefined;
export const shardResultOf = (raw: unknown): ShardResult =>
  check(raw, { parts: 'array', keys: 'number', nodes: 'object', failures: 'array' }, 'shard result');
export const batchResultOf = (raw: unknown): BatchResult => check(raw, { results: 'array' }, 'batch result');
export const storedRefOf = (raw: unknown): StoredRef => check(raw, { key: 'string', sha256: 'string', bytes: 'number' }, 'stored reference');
export const sliceResultOf = (raw: unknown): SliceResult => check(raw, { items: 'array', prior: 'object' }, 'slice result');
