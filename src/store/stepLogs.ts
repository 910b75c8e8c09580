/**
 * Per-step journals: what each attempt of a step did — when it ran, how it ended, its `ctx.log`
 * lines and where it ran (workflow and activity, for Web UI links). The op runner writes one named
 * record per step key to the value store (`runs/<runId>/steps/<hash of step key>.json`), so the
 * workflows issue no extra commands; clients (`JobResult.logs`, `opgraph logs`, the run page) read
 * them back by run id and step key.
 *
 * Bounded: each attempt keeps its last LOG_LINES_KEPT lines (each cut to LOG_LINE_CHARS) and counts
 * the lines it dropped.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isSealed, openText } from '../codec/aesGcm.ts';
import type { ValueStore } from './types.ts';

export const LOG_LINES_KEPT = 200;
export const LOG_LINE_CHARS = 2_000;

export const LogLevel = z.enum(['debug', 'info', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevel>;

export const StepLogLine = z.object({
  /** Milliseconds since the epoch. */
  at: z.number(),
  level: LogLevel,
  message: z.string(),
  /** The `extra` object passed to ctx.log, as compact JSON. */
  extra: z.string().optional(),
});
export type StepLogLine = z.infer<typeof StepLogLine>;

export const AttemptJournal = z.object({
  /** The step's user-retry attempt (1-based), as ctx.attempt. */
  attempt: z.number().int().positive(),
  state: z.enum(['running', 'succeeded', 'failed', 'cancelled']),
  /** A failed attempt the interpreter will retry (the op's RetryPolicy has attempts left). */
  willRetry: z.boolean().optional(),
  startedAt: z.number(),
  endedAt: z.number().optional(),
  error: z.object({ type: z.string(), message: z.string(), errorClass: z.string().optional() }).optional(),
  /** Where it ran: the workflow that scheduled the activity, and the activity. */
  workflowId: z.string(),
  workflowRunId: z.string(),
  activityId: z.string(),
  logs: z.array(StepLogLine),
  droppedLines: z.number().int().nonnegative().default(0),
});
export type AttemptJournal = z.infer<typeof AttemptJournal>;

export const StepJournal = z.object({
  runId: z.string(),
  stepKey: z.string(),
  node: z.string(),
  mappingKeys: z.array(z.string()),
  /** In the order they ran (a redriven step's attempts start again at 1). */
  attempts: z.array(AttemptJournal),
});
export type StepJournal = z.infer<typeof StepJournal>;

export function runJournalPrefix(runId: string): string {
  return `runs/${hashed(runId)}/steps/`;
}

/** Step keys may hold any characters and be long: the record is named by a hash, and holds the key. */
export function stepJournalName(runId: string, stepKey: string): string {
  return `${runJournalPrefix(runId)}${hashed(stepKey)}.json`;
}

function hashed(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

export async function readStepJournal(store: ValueStore, runId: string, stepKey: string): Promise<StepJournal | undefined> {
  const json = await store.getNamed(stepJournalName(runId, stepKey));
  return json === undefined ? undefined : parseJournal(json);
}

/**
 * Every step journal of a run (in no particular order). `succeeded`: journals of succeeded steps
 * read before, by name. A succeeded step never runs again in its run (a redrive re-runs failed
 * steps only), so its journal is final: a live view that polls reads each once, not every time.
 */
export async function listStepJournals(store: ValueStore, runId: string, succeeded?: Map<string, StepJournal>): Promise<StepJournal[]> {
  const names = await store.listNamed(runJournalPrefix(runId));
  const journals: StepJournal[] = [];
  const unread: string[] = [];
  for (const name of names) {
    const known = succeeded?.get(name);
    if (known) journals.push(known);
    else unread.push(name);
  }
  // A few at a time: a large fan-out has thousands, and the S3 store pays a request each.
  for (let i = 0; i < unread.length; i += 32) {
    const batch = unread.slice(i, i + 32);
    const texts = await Promise.all(batch.map((name) => store.getNamed(name)));
    texts.forEach((json, j) => {
      const journal = json === undefined ? undefined : parseJournal(json);
      if (!journal) return;
      journals.push(journal);
      if (journal.attempts[journal.attempts.length - 1]?.state === 'succeeded') succeeded?.set(batch[j]!, journal);
    });
  }
  return journals;
}

function parseJournal(json: string): StepJournal | undefined {
  // Sealed text reaching here was read without the codec keys: say so (openText names the key id).
  if (isSealed(json)) openText(json, undefined, 'a step log');
  try {
    const parsed = StepJournal.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** `12:03:04.123 INFO k2#1 message {"extra":1}` — one line, for terminals. */
export function logLineText(line: StepLogLine, prefix = ''): string {
  const time = new Date(line.at).toISOString().slice(11, 23);
  const message = line.message.replace(/\s*\n\s*/g, ' ⏎ ');
  return `${time} ${line.level.toUpperCase().padEnd(5)} ${prefix}${message}${line.extra ? ` ${line.extra}` : ''}`;
}
