/**
 * Re-execution of a run that has ended (Dagster's "re-execute from failure" and step selection): a
 * new run of the same plan and run config that takes over the records of the parent's succeeded
 * steps — their outputs, read from the parent's result and the store — and runs only the rest.
 * The records travel in stored chunks (ReusedChunk), grouped by top-level dimension and sorted by
 * top-level mapping key, so each key or shard of the new run loads only the chunks that can hold it.
 */
import type { Client } from '@temporalio/client';
import { decodeRawPayload } from '../codec/index.ts';
import { stepKey as keyOf } from '../dsl/keys.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { PAYLOAD } from '../dsl/limits.ts';
import type { InputSource, JobPlan, PlanNode } from '../dsl/plan.ts';
import { JobWorkflowInput, type Reexecution, type ReusedChunk, type StepRecord } from '../dsl/protocol.ts';
import { chunked } from '../engine/payload.ts';
import { getDefaultStore, type ValueStore } from '../store/store.ts';
import type { JobResult } from './result.ts';
import { awaitRun, launchPlan, type LaunchedRun, type LaunchOptions } from './run.ts';

export interface ReexecuteOptions extends Omit<LaunchOptions, 'runConfig'> {
  /** Run the parent's failed steps, the steps they abandoned or skipped, and steps that never ran. */
  fromFailure?: boolean;
  /**
   * Dagster-style step selection: these steps run again even if they succeeded (`op`, `op[key]`,
   * `op[outer,inner]`, `op[*]`). Every other succeeded step is taken over.
   */
  stepKeys?: readonly string[];
  store?: ValueStore;
}

export interface Reexecuted extends LaunchedRun {
  readonly parentWorkflowId: string;
  /** Steps taken over from the parent (not run again). */
  readonly reused: number;
}

/** The input a job's workflow started with (its first history event): plan, run config, run id. */
export async function runInputOf(client: Client, workflowId: string): Promise<JobWorkflowInput | undefined> {
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId },
    maximumPageSize: 1,
  });
  const payload = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) return undefined;
  const parsed = JobWorkflowInput.safeParse(await decodeRawPayload(client.options.loadedDataConverter, payload));
  return parsed.success ? parsed.data : undefined;
}

/** Starts a re-execution of the run `parentWorkflowId` (which must have ended); does not wait for it. */
export async function reexecuteRun(client: Client, parentWorkflowId: string, options: ReexecuteOptions): Promise<Reexecuted> {
  const selection = options.stepKeys ?? [];
  if (!options.fromFailure && selection.length === 0) {
    throw new OpgraphError('re-execute what? pass fromFailure (--from-failure) or stepKeys (--step-keys op[key] …)');
  }
  const handle = client.workflow.getHandle(parentWorkflowId);
  const description = await handle.describe();
  if (description.status.name === 'RUNNING') {
    throw new OpgraphError(
      `run ${parentWorkflowId} is still running: re-execute it once it has ended (or redrive it in place if it waits on failed steps)`,
    );
  }
  const input = await runInputOf(client, parentWorkflowId);
  if (!input) throw new OpgraphError(`workflow ${parentWorkflowId} is not an opgraph job run (its first event has no job input)`);
  const parent = await awaitRun({ jobName: input.plan.job, runId: input.runId, workflowId: parentWorkflowId, handle, plan: input.plan });
  // A run that succeeded with tolerated failures (toleratedFailures) has failed keys to run again.
  if (options.fromFailure && selection.length === 0 && parent.success && parent.toleratedFailures.length === 0) {
    throw new OpgraphError(
      `run ${parentWorkflowId} succeeded: nothing failed to re-execute. Select steps to run again with --step-keys (e.g. ${firstStep(parent)}).`,
    );
  }
  const taken = reusableRecords(parent, input.plan, selection, options.fromFailure === true);
  const chunks = await storeChunks(taken, input.plan, options.store ?? getDefaultStore());
  const reexecution: Reexecution = { parentWorkflowId, parentRunId: input.runId, chunks };
  const { fromFailure: _f, stepKeys: _s, store: _store, ...launch } = options;
  const run = await launchPlan(
    client,
    input.plan,
    input.runConfig,
    { ...launch, taskQueue: options.taskQueue ?? description.taskQueue },
    {
      reexecution,
      reused: Object.keys(taken).length,
    },
  );
  return { ...run, parentWorkflowId, reused: Object.keys(taken).length };
}

/** Launches a re-execution and waits for its result. */
export async function reexecute(client: Client, parentWorkflowId: string, options: ReexecuteOptions): Promise<JobResult> {
  return awaitRun(await reexecuteRun(client, parentWorkflowId, options));
}

/**
 * The parent's succeeded steps that are taken over (marked reused): all but the selected ones and,
 * from failure, those that read something that runs again.
 */
function reusableRecords(parent: JobResult, plan: JobPlan, selection: readonly string[], fromFailure: boolean): Record<string, StepRecord> {
  const matchers = selection.map((pattern) => stepMatcher(pattern, plan, parent));
  const records = parent.steps();
  const runs = new Set(Object.keys(records).filter((key) => records[key]?.status !== 'SUCCESS' || matchers.some((m) => m(records[key]!))));
  if (fromFailure) addDownstream(records, plan, runs);
  const taken: Record<string, StepRecord> = {};
  for (const [key, record] of Object.entries(records)) if (!runs.has(key)) taken[key] = { ...record, reused: true };
  return taken;
}

/**
 * From failure, a succeeded step runs again when something it read runs again: its own or an
 * enclosing key's upstream step, or any key of a map it collected (a map with tolerated failures
 * leaves its collect's consumer succeeded, with the failed keys left out). Repeats to a fixpoint.
 */
function addDownstream(records: Readonly<Record<string, StepRecord>>, plan: JobPlan, runs: Set<string>): void {
  const nodes = new Map(plan.nodes.map((n) => [n.id, n]));
  for (let added = true; added;) {
    added = false;
    const running = new Map<string, (readonly string[])[]>();
    for (const key of runs) {
      const record = records[key];
      if (record) running.set(record.node, [...(running.get(record.node) ?? []), record.mappingKeys]);
    }
    for (const [key, record] of Object.entries(records)) {
      if (runs.has(key)) continue;
      const reads = nodes.get(record.node)?.inputs.some(({ source }) => readsRunning(source, record.mappingKeys, running, nodes)) ?? false;
      if (reads) {
        runs.add(key);
        added = true;
      }
    }
  }
}

function readsRunning(
  source: InputSource,
  keys: readonly string[],
  running: ReadonlyMap<string, (readonly string[])[]>,
  nodes: ReadonlyMap<string, PlanNode>,
): boolean {
  const refs =
    source.kind === 'fanin'
      ? source.sources.map((s) => ({ kind: 'output' as const, node: s.node }))
      : source.kind === 'config'
        ? []
        : [source];
  return refs.some((ref) => {
    const paths = running.get(ref.node) ?? [];
    if (ref.kind === 'collect') return paths.some((path) => startsWith(path, keys));
    const upstream = keys.slice(0, nodes.get(ref.node)?.dim.length ?? 0);
    return paths.some((path) => path.length === upstream.length && startsWith(path, upstream));
  });
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((k, i) => path[i] === k);
}

/** `op`, `op[*]`, `op[key]` or `op[k1,k2]` (nested keys, outermost first) → which records it selects. */
function stepMatcher(pattern: string, plan: JobPlan, parent: JobResult): (record: StepRecord) => boolean {
  const match = /^([^[\]]+)(?:\[(.*)\])?$/.exec(pattern.trim());
  const node = match?.[1];
  const nodes = plan.nodes.map((n) => n.id);
  if (!match || !node) throw new OpgraphError(`step key "${pattern}" is not of the form op, op[key] or op[*]`);
  if (!nodes.includes(node)) {
    throw new OpgraphError(`step key "${pattern}": job ${plan.job} has no node "${node}" (nodes: ${nodes.join(', ')})`);
  }
  const keys = match[2];
  const matcher = (record: StepRecord) =>
    record.node === node && (keys === undefined || keys === '*' || keys === record.mappingKeys.join(','));
  if (keys !== undefined && keys !== '*' && !Object.values(parent.steps()).some(matcher)) {
    const known = Object.keys(parent.steps()).filter((k) => k.startsWith(`${node}[`));
    throw new OpgraphError(
      `step key "${pattern}" did not run in the parent run${known.length > 0 ? ` (its steps of ${node}: ${known.slice(0, 5).join(', ')}${known.length > 5 ? ', …' : ''})` : ''}`,
    );
  }
  return matcher;
}

/**
 * Stores the records in chunks of one top-level dimension each ('' for the job's own steps), sorted
 * by top-level mapping key, each chunk under one payload.
 */
async function storeChunks(records: Record<string, StepRecord>, plan: JobPlan, store: ValueStore): Promise<ReusedChunk[]> {
  const dimOf = new Map(plan.nodes.map((n) => [n.id, n.dim[0] ?? '']));
  const byDim = new Map<string, [string, StepRecord][]>();
  for (const entry of Object.entries(records)) {
    const dim = entry[1].mappingKeys.length === 0 ? '' : (dimOf.get(entry[1].node) ?? '');
    const list = byDim.get(dim) ?? [];
    list.push(entry);
    byDim.set(dim, list);
  }
  const chunks: ReusedChunk[] = [];
  for (const [dim, entries] of byDim) {
    const topKey = ([, record]: [string, StepRecord]) => record.mappingKeys[0] ?? '';
    entries.sort((a, b) => (topKey(a) < topKey(b) ? -1 : topKey(a) > topKey(b) ? 1 : 0));
    for (const part of chunked(entries, PAYLOAD.chunk)) {
      const first = part[0];
      const last = part[part.length - 1];
      if (!first || !last) continue;
      const ref = await store.put(JSON.stringify({ steps: Object.fromEntries(part) }));
      chunks.push({ dim, first: topKey(first), last: topKey(last), ref });
    }
  }
  return chunks;
}

function firstStep(result: JobResult): string {
  const [first] = Object.values(result.steps());
  return first ? keyOf(first.node, first.mappingKeys) : 'op[key]';
}
