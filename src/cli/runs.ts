/**
 * Finding runs on the server: the id a command was given (a workflow id, or the run id opgraph prints)
 * resolved to the job workflow's id, and `opgraph runs`, the list of runs through Temporal visibility.
 *
 * A job workflow's id is `<job>-<runId>` when `launch`/`run` started it; a run started by a schedule
 * or by job name alone has the server's id for it. Either way the job workflow carries the search
 * attributes OpgraphJob (and OpgraphRunId when opgraph chose the run id); its children carry
 * OpgraphStepKey too, which is how they are left out here.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Command } from 'commander';
import { defineSearchAttributeKey, SearchAttributeType, WorkflowNotFoundError } from '@temporalio/common';
import type { JobResult } from '../client/result.ts';
import { awaitRun } from '../client/run.ts';
import { SEARCH_ATTRIBUTES } from '../dsl/constants.ts';
import { OpgraphError } from '../dsl/errors.ts';
import type { RunProgress } from '../engine/progress.ts';
import { hasOpgraphSearchAttributes } from '../searchAttributes.ts';
import { EXIT, UsageError } from './errors.ts';
import { type CliIO, printer, withTimeout } from './io.ts';
import { withClient } from './serverClient.ts';

/** `--status` values and the visibility ExecutionStatus each one queries. */
export const RUN_STATUSES = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
} as const;
export type RunStatusFilter = keyof typeof RUN_STATUSES;

/** Visibility string literal: single-quoted, with quotes and backslashes escaped. */
function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const JOB_WORKFLOWS = `${SEARCH_ATTRIBUTES.job} IS NOT NULL AND ${SEARCH_ATTRIBUTES.stepKey} IS NULL`;

async function listAll(client: Client, query: string, limit: number): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query })) {
    found.push(info);
    if (found.length >= limit) break;
  }
  return found;
}

function notFoundError(id: string, namespace: string, cause?: unknown): OpgraphError {
  return new OpgraphError(
    `no workflow "${id}" in namespace "${namespace}", and no run with that run id (pass the workflow id printed by \`opgraph launch\` — \`<job>-<runId>\` — or the run id; \`opgraph runs\` lists both; check TEMPORAL_NAMESPACE)`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * The job workflow's id for `id`: `id` itself when such a workflow exists, else the job workflow
 * whose run id (OpgraphRunId, or the server's run id for runs started by a schedule) is `id`.
 */
export async function resolveWorkflowId(client: Client, namespace: string, id: string): Promise<string> {
  try {
    await client.workflow.getHandle(id).describe();
    return id;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    const byRunId = `RunId = ${literal(id)}`;
    const query = (await hasOpgraphSearchAttributes(client))
      ? `(${SEARCH_ATTRIBUTES.runId} = ${literal(id)} AND ${SEARCH_ATTRIBUTES.stepKey} IS NULL) OR ${byRunId}`
      : byRunId;
    const matches = await listAll(client, query, 10).catch(() => []);
    const ids = [...new Set(matches.map((m) => m.workflowId))];
    if (ids.length === 1 && ids[0] !== undefined) return ids[0];
    if (ids.length > 1) throw new OpgraphError(`run id "${id}" matches several workflows (${ids.join(', ')}): pass the workflow id`);
    throw notFoundError(id, namespace, err);
  }
}

/** One row of `opgraph runs`. */
export interface RunRow {
  job: string;
  runId: string;
  workflowId: string;
  status: string;
  start: Date;
  /** Till now for a running run. */
  durationMs: number;
  /** Steps succeeded / failed; undefined when unknown (a running run whose worker does not answer). */
  steps?: { done: number; failed: number };
}

const RUN_ID_KEY = defineSearchAttributeKey(SEARCH_ATTRIBUTES.runId, SearchAttributeType.KEYWORD);

/** The run id opgraph chose (OpgraphRunId), else the server's (runs started by a schedule or by job name). */
function runIdOf(info: WorkflowExecutionInfo): string {
  return info.typedSearchAttributes.get(RUN_ID_KEY) ?? info.runId;
}

/** Steps done/failed of a closed run, from its result (no worker needed), or of a running one, from its `progress` query. */
async function stepCounts(client: Client, info: WorkflowExecutionInfo, runId: string): Promise<RunRow['steps']> {
  const handle = client.workflow.getHandle(info.workflowId, info.runId);
  if (info.status.name === 'RUNNING') {
    const progress = await withTimeout(handle.query<RunProgress>('progress'), 2_000, 'no worker').catch(() => undefined);
    if (!progress) return undefined;
    const nodes = Object.values(progress.nodes);
    return { done: nodes.reduce((n, c) => n + c.succeeded, 0), failed: nodes.reduce((n, c) => n + c.failed, 0) };
  }
  const result: JobResult = await awaitRun({ jobName: info.type, runId, workflowId: info.workflowId, handle });
  const records = Object.values(result.steps());
  return {
    done: records.filter((r) => r.status === 'SUCCESS').length,
    failed: records.filter((r) => r.status === 'FAILURE').length,
  };
}

export interface RunsQuery {
  job?: string;
  status?: RunStatusFilter;
  limit: number;
}

/** The newest runs first, as visibility lists them. */
export async function listRuns(client: Client, filter: RunsQuery, now = new Date()): Promise<RunRow[]> {
  if (!(await hasOpgraphSearchAttributes(client))) {
    throw new OpgraphError(
      `the namespace has no opgraph search attributes (${Object.values(SEARCH_ATTRIBUTES).join(', ')}), so runs cannot be listed: register them as Keyword (\`temporal operator search-attribute create --name OpgraphJob --type Keyword\` …; \`opgraph dev\` does it)`,
    );
  }
  let query = JOB_WORKFLOWS;
  if (filter.job) query += ` AND ${SEARCH_ATTRIBUTES.job} = ${literal(filter.job)}`;
  if (filter.status) query += ` AND ExecutionStatus = ${literal(RUN_STATUSES[filter.status])}`;
  const infos = await listAll(client, query, filter.limit);
  return Promise.all(
    infos.map(async (info) => {
      const runId = runIdOf(info);
      const end = info.closeTime ?? now;
      const steps = await stepCounts(client, info, runId).catch(() => undefined);
      return {
        job: info.type,
        runId,
        workflowId: info.workflowId,
        status: info.status.name,
        start: info.startTime,
        durationMs: Math.max(0, end.getTime() - info.startTime.getTime()),
        ...(steps ? { steps } : {}),
      };
    }),
  );
}

/** `1.2s`, `3m 05s`, `2h 01m`. */
export function durationText(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** The table `opgraph runs` prints: a header and one aligned row per run. */
export function runsTable(rows: readonly RunRow[]): string[] {
  const header = ['JOB', 'RUN ID', 'STATUS', 'STARTED', 'DURATION', 'STEPS DONE/FAILED', 'WORKFLOW ID'];
  const cells = rows.map((r) => [
    r.job,
    r.runId,
    r.status,
    r.start.toISOString().replace(/\.\d+Z$/, 'Z'),
    durationText(r.durationMs),
    r.steps ? `${r.steps.done}/${r.steps.failed}` : '?',
    r.workflowId,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: readonly string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)];
}

export interface RunsCommandOptions {
  job?: string;
  status?: string;
  limit?: string;
}

/** `opgraph runs [--job j] [--status s] [--limit n]`. */
export async function runsCommand(client: Client, options: RunsCommandOptions, io: CliIO): Promise<void> {
  const status = options.status?.toLowerCase().replace('canceled', 'cancelled');
  if (status !== undefined && !(status in RUN_STATUSES)) {
    throw new UsageError(`--status must be one of ${Object.keys(RUN_STATUSES).join(', ')}, got "${options.status}"`);
  }
  const limit = options.limit === undefined ? 20 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, got "${options.limit}"`);
  const rows = await listRuns(client, {
    ...(options.job ? { job: options.job } : {}),
    ...(status ? { status: status as RunStatusFilter } : {}),
    limit,
  });
  const out = printer(io.stdout);
  if (rows.length === 0) {
    printer(io.stderr)(`No runs${options.job ? ` of job ${options.job}` : ''}${status ? ` with status ${status}` : ''}.`);
    return;
  }
  for (const line of runsTable(rows)) out(line);
}

/** Adds `opgraph runs` to the program. */
export function addRunsCommand(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('runs')
    .description('list runs on TEMPORAL_ADDRESS, newest first (Temporal visibility): job, run id, status, start, duration, steps')
    .option('-j, --job <job>', 'only runs of this job')
    .option('-s, --status <status>', `only runs with this status: ${Object.keys(RUN_STATUSES).join(', ')}`)
    .option('-n, --limit <n>', 'at most this many runs (default 20)')
    .addHelpText(
      'after',
      `
STEPS DONE/FAILED counts succeeded and failed steps: from the result of a closed run, from the progress
query of a running one ("?" when no worker answers within 2s). Any command taking a workflow id also
takes the RUN ID shown here.`,
    )
    .action(async (opts: RunsCommandOptions) => {
      await withClient(io, 'runs', (client) => runsCommand(client, opts, io));
      setExit(EXIT.ok);
    });
}
