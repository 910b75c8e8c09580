/**
 * `opgraph schedule create|list|pause|unpause|trigger|delete`: runs of a job on a timetable, through
 * Temporal Schedules (the server starts the runs, so no opgraph process needs to stay up for them).
 *
 * Each scheduled run starts like `opgraph launch`: workflow type = the job's name, the task queue a
 * worker serves, the OpgraphJob search attribute, and the run config checked against the job when the
 * schedule is created. One thing differs, because a schedule's action is fixed while every run needs its
 * own run id: the action carries the run config alone (`{ runConfig }`, the "started by job name" input),
 * so each run takes the server's run id as its own and a worker resolves the job's plan as the run
 * starts (a recorded activity; src/workflows/index.ts). A run id with the plan baked in would make
 * every run of the schedule share one run id, and so one set of child workflow ids.
 */
import {
  type Client,
  type ScheduleDescription,
  ScheduleNotFoundError,
  type ScheduleOptions,
  ScheduleOverlapPolicy,
  type ScheduleSpec,
} from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../connection.ts';
import { SEARCH_ATTRIBUTES } from '../dsl/constants.ts';
import { durationMs } from '../dsl/duration.ts';
import { OpgraphError } from '../dsl/errors.ts';
import { resolveRunConfig, type RunConfig } from '../dsl/runConfig.ts';
import { hasOpgraphSearchAttributes } from '../searchAttributes.ts';
import { readRunConfigFile } from './config.ts';
import { getJob, loadDefinitions } from './definitions.ts';
import { EXIT, UsageError } from './errors.ts';
import { type CliIO, printer } from './io.ts';
import { withClient } from './serverClient.ts';

/** `--overlap` values: what a schedule does when a run is due while the previous one still runs. */
export const OVERLAP_POLICIES = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
} as const;
export type OverlapName = keyof typeof OVERLAP_POLICIES;

/** Memo on each schedule opgraph creates: what `schedule list` shows (the server describes a cron back as calendars). */
export const SCHEDULE_MEMO = 'opgraphSchedule';
const ScheduleMemo = z.object({ job: z.string(), spec: z.string(), config: z.string().optional() });
type ScheduleMemo = z.infer<typeof ScheduleMemo>;

export interface ScheduleCreateOptions {
  module: string;
  cron?: string;
  every?: string;
  config?: string;
  id?: string;
  taskQueue?: string;
  overlap: string;
  catchupWindow?: string;
  paused?: boolean;
  note?: string;
}

function overlapPolicy(name: string): ScheduleOverlapPolicy {
  const policy = OVERLAP_POLICIES[name as OverlapName] as ScheduleOverlapPolicy | undefined;
  if (!policy) throw new UsageError(`--overlap must be one of ${Object.keys(OVERLAP_POLICIES).join(', ')}, got "${name}"`);
  return policy;
}

function durationOption(value: string, option: string): number {
  try {
    return durationMs(value, option);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The timetable: a cron expression (5 fields, or 6–7 with year / seconds) or a fixed interval. */
function scheduleSpec(options: Pick<ScheduleCreateOptions, 'cron' | 'every'>): { spec: ScheduleSpec; text: string } {
  if ((options.cron === undefined) === (options.every === undefined)) {
    throw new UsageError(
      'pass exactly one of --cron "<expression>" (e.g. "0 3 * * *": 03:00 every day; 7 fields start with seconds: "*/5 * * * * * *") or --every <interval> (e.g. 10m)',
    );
  }
  if (options.cron !== undefined) {
    const fields = options.cron.trim().split(/\s+/).length;
    if (!options.cron.trim().startsWith('@') && (fields < 5 || fields > 7)) {
      throw new UsageError(
        `--cron "${options.cron}" has ${fields} field(s): give 5 (minute hour day-of-month month day-of-week), 6 (… year) or 7 (second minute … year)`,
      );
    }
    return { spec: { cronExpressions: [options.cron.trim()] }, text: `cron ${options.cron.trim()}` };
  }
  const every = durationOption(options.every ?? '', '--every');
  return { spec: { intervals: [{ every }] }, text: `every ${options.every ?? ''}` };
}

/** The action each firing takes: start the job's workflow as `opgraph launch` does (see the module comment). */
export async function scheduleAction(
  client: Client,
  jobName: string,
  runConfig: RunConfig | undefined,
  taskQueue: string,
  scheduleId: string,
): Promise<ScheduleOptions['action']> {
  const tagged = await hasOpgraphSearchAttributes(client);
  return {
    type: 'startWorkflow',
    workflowType: jobName,
    // The server appends the scheduled time: `<job>-2026-11-23T19:30:00Z`.
    workflowId: jobName,
    taskQueue,
    args: [{ runConfig: runConfig ?? {} }],
    ...(tagged
      ? { typedSearchAttributes: [{ key: defineSearchAttributeKey(SEARCH_ATTRIBUTES.job, SearchAttributeType.KEYWORD), value: jobName }] }
      : {}),
    staticSummary: `opgraph job ${jobName} · schedule ${scheduleId}`,
  };
}

function notFound(err: unknown, id: string): never {
  if (err instanceof ScheduleNotFoundError) {
    throw new OpgraphError(`no schedule "${id}" (\`opgraph schedule list\` lists them; check TEMPORAL_NAMESPACE)`, { cause: err });
  }
  throw err;
}

/** Creates the schedule; prints its id on stdout, what it does on stderr. */
export async function scheduleCreateCommand(jobName: string, options: ScheduleCreateOptions, io: CliIO): Promise<number> {
  const { spec, text } = scheduleSpec(options);
  const overlap = overlapPolicy(options.overlap);
  const catchupWindow = options.catchupWindow === undefined ? undefined : durationOption(options.catchupWindow, '--catchup-window');
  const definitions = await loadDefinitions(options.module, io.cwd);
  const job = getJob(definitions, jobName, options.module);
  const runConfig = options.config === undefined ? undefined : readRunConfigFile(options.config, io.cwd);
  resolveRunConfig(job, runConfig); // refused now, not at each firing
  const scheduleId = options.id ?? job.name;
  const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
  return withClient(io, 'schedule create', async (client) => {
    const memo: ScheduleMemo = { job: job.name, spec: text, ...(options.config ? { config: options.config } : {}) };
    const handle = await client.schedule
      .create({
        scheduleId,
        spec,
        action: await scheduleAction(client, job.name, runConfig, taskQueue, scheduleId),
        policies: { overlap, ...(catchupWindow === undefined ? {} : { catchupWindow }) },
        memo: { [SCHEDULE_MEMO]: memo },
        state: { paused: options.paused ?? false, ...(options.note ? { note: options.note } : {}) },
      })
      .catch((err: unknown) => {
        if (err instanceof Error && err.name === 'ScheduleAlreadyRunning') {
          throw new UsageError(
            `a schedule "${scheduleId}" exists already: pass --id <another id>, or \`opgraph schedule delete ${scheduleId}\` first`,
          );
        }
        throw err;
      });
    const description = await handle.describe();
    printer(io.stdout)(scheduleId);
    const err = printer(io.stderr);
    err(
      `Schedule ${scheduleId}: job ${job.name}, ${text}, on task queue "${taskQueue}" (overlap ${options.overlap}${catchupWindow === undefined ? '' : `, catch-up window ${options.catchupWindow}`})${options.paused ? ', paused' : ''}.`,
    );
    const next = description.info.nextActionTimes[0];
    if (next && !options.paused) err(`Next run: ${next.toISOString()}. A worker serving the job must be running (\`opgraph worker\`).`);
    err(`Runs show in: opgraph runs --job ${job.name}`);
    return EXIT.ok;
  });
}

export interface ScheduleRow {
  id: string;
  job: string;
  spec: string;
  state: string;
  next?: Date;
  recent: number;
  lastWorkflowId?: string;
}

function rowOf(summary: ScheduleDescription): ScheduleRow {
  const memo = ScheduleMemo.safeParse(summary.memo?.[SCHEDULE_MEMO]);
  const action = summary.action;
  const job = memo.success ? memo.data.job : (action?.workflowType ?? '?');
  const recent = summary.info.recentActions;
  const last = recent[recent.length - 1];
  return {
    id: summary.scheduleId,
    job,
    spec: memo.success ? memo.data.spec : '(not created by opgraph)',
    state: summary.state.paused ? `paused${summary.state.note ? ` (${summary.state.note})` : ''}` : 'active',
    ...(summary.info.nextActionTimes[0] && !summary.state.paused ? { next: summary.info.nextActionTimes[0] } : {}),
    recent: recent.length,
    ...(last ? { lastWorkflowId: last.action.workflow.workflowId } : {}),
  };
}

/**
 * The schedules of the namespace (those opgraph did not create show their workflow type as job). The
 * list comes from visibility, which lags a change by a moment: each one's state is read afresh.
 */
export async function listSchedules(client: Client): Promise<ScheduleRow[]> {
  const ids: string[] = [];
  for await (const summary of client.schedule.list()) ids.push(summary.scheduleId);
  const rows = await Promise.all(
    ids.map(async (id) => {
      try {
        return [rowOf(await client.schedule.getHandle(id).describe())];
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) return []; // deleted since it was listed
        throw err;
      }
    }),
  );
  return rows.flat().sort((a, b) => a.id.localeCompare(b.id));
}

export function scheduleTable(rows: readonly ScheduleRow[]): string[] {
  const header = ['ID', 'JOB', 'WHEN', 'STATE', 'NEXT RUN', 'RECENT RUNS', 'LAST WORKFLOW ID'];
  const cells = rows.map((r) => [
    r.id,
    r.job,
    r.spec,
    r.state,
    r.next ? r.next.toISOString().replace(/\.\d+Z$/, 'Z') : '-',
    String(r.recent),
    r.lastWorkflowId ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: readonly string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)];
}

type ScheduleVerb = 'pause' | 'unpause' | 'trigger' | 'delete';

/** pause / unpause / trigger / delete one schedule. */
export async function scheduleVerbCommand(
  verb: ScheduleVerb,
  id: string,
  options: { note?: string; overlap?: string },
  io: CliIO,
): Promise<number> {
  const overlap = options.overlap === undefined ? undefined : overlapPolicy(options.overlap);
  return withClient(io, `schedule ${verb}`, async (client) => {
    const handle = client.schedule.getHandle(id);
    const before = await handle.describe().catch((err: unknown) => notFound(err, id));
    const out = printer(io.stdout);
    switch (verb) {
      case 'pause':
        await handle.pause(options.note ?? 'paused with opgraph schedule pause');
        out(`Paused schedule ${id}: no runs start until \`opgraph schedule unpause ${id}\` (runs in flight go on).`);
        break;
      case 'unpause': {
        await handle.unpause(options.note ?? 'unpaused with opgraph schedule unpause');
        const next = (await handle.describe()).info.nextActionTimes[0];
        out(`Unpaused schedule ${id}${next ? `; next run ${next.toISOString()}` : ''}.`);
        break;
      }
      case 'trigger':
        await handle.trigger(overlap);
        out(`Triggered schedule ${id}: a run of ${rowOf(before).job} starts now (overlap ${options.overlap ?? 'as the schedule says'}).`);
        break;
      case 'delete':
        await handle.delete();
        out(`Deleted schedule ${id}; the runs it started are kept.`);
        break;
    }
    return EXIT.ok;
  });
}

/** Adds `opgraph schedule …` to the program. */
export function addScheduleCommands(
  program: Command,
  io: CliIO,
  setExit: (code: number) => void,
  defaults: { moduleOption: () => Option; taskQueue: string },
): void {
  const schedule = program
    .command('schedule')
    .description('run a job on a timetable with Temporal Schedules (on TEMPORAL_ADDRESS): create, list, pause, unpause, trigger, delete')
    .addHelpText(
      'after',
      `
A scheduled run starts like \`opgraph launch\` (same workflow type, task queue, search attributes and
checked run config); its workflow id is <job>-<scheduled time> and its run id the server's. A worker
serving the job must be running when runs are due.`,
    );
  schedule
    .command('create')
    .description('create a schedule for a job; prints its id')
    .argument('<job>', 'job name (see `opgraph list`)')
    .option('--cron <expression>', 'cron: 5 fields (minute hour day month weekday), 6 (+ year) or 7 (second first): "*/10 * * * * * *"')
    .option('--every <interval>', 'a fixed interval instead of --cron: 30s, 10m, 1h')
    .option('-c, --config <file>', 'run config file (.json, .yaml or .yml), checked now and passed to every run')
    .option('--id <scheduleId>', 'schedule id (default: the job name)')
    .addOption(defaults.moduleOption())
    .addOption(new Option('-q, --task-queue <queue>', 'task queue a worker serves').default(defaults.taskQueue))
    .addOption(
      new Option('--overlap <policy>', 'when a run is due while the last one still runs')
        .choices(Object.keys(OVERLAP_POLICIES))
        .default('skip'),
    )
    .option('--catchup-window <duration>', 'how late a missed run (server down) may still start: 1m, 1h (Temporal default 1 year)')
    .option('--paused', 'create it paused')
    .option('--note <text>', 'a note shown with the schedule state')
    .action(async (job: string, opts: ScheduleCreateOptions) => {
      setExit(await scheduleCreateCommand(job, opts, io));
    });
  schedule
    .command('list')
    .description('list schedules: id, job, timetable, state, next run, recent runs')
    .action(async () => {
      await withClient(io, 'schedule list', async (client) => {
        const rows = await listSchedules(client);
        if (rows.length === 0) printer(io.stderr)('No schedules.');
        else for (const line of scheduleTable(rows)) printer(io.stdout)(line);
      });
      setExit(EXIT.ok);
    });
  const verb = (name: ScheduleVerb, description: string) =>
    schedule.command(name).description(description).argument('<scheduleId>', 'the schedule id (`opgraph schedule list`)');
  verb('pause', 'stop starting runs (runs in flight go on)')
    .option('--note <text>', 'why (shown in schedule list)')
    .action(async (id: string, opts: { note?: string }) => setExit(await scheduleVerbCommand('pause', id, opts, io)));
  verb('unpause', 'start runs again')
    .option('--note <text>', 'a note')
    .action(async (id: string, opts: { note?: string }) => setExit(await scheduleVerbCommand('unpause', id, opts, io)));
  verb('trigger', 'start a run now (even when paused)')
    .addOption(
      new Option('--overlap <policy>', "overlap policy for this run (default: the schedule's)").choices(Object.keys(OVERLAP_POLICIES)),
    )
    .action(async (id: string, opts: { overlap?: string }) => setExit(await scheduleVerbCommand('trigger', id, opts, io)));
  verb('delete', 'delete the schedule (the runs it started are kept)').action(async (id: string) =>
    setExit(await scheduleVerbCommand('delete', id, {}, io)),
  );
}
