/** Reading per-step logs (src/store/stepLogs.ts) from a client: by run id and step key. */
import { getDefaultStore } from '../store/store.ts';
import { listStepJournals, readStepJournal, type StepJournal, type StepLogLine } from '../store/stepLogs.ts';
import type { ValueStore } from '../store/types.ts';

export type { StepJournal, StepLogLine };

/** One ctx.log line of a step, with the attempt that logged it. */
export interface StepLogEntry extends StepLogLine {
  stepKey: string;
  attempt: number;
}

/** Every line the step logged, attempt by attempt, oldest first ([] for a step that never ran). */
export async function stepLogs(runId: string, stepKey: string, store: ValueStore = getDefaultStore()): Promise<StepLogEntry[]> {
  const journal = await readStepJournal(store, runId, stepKey);
  return journal ? journalLines(journal) : [];
}

export function journalLines(journal: StepJournal): StepLogEntry[] {
  return journal.attempts.flatMap((a) => a.logs.map((line) => ({ ...line, stepKey: journal.stepKey, attempt: a.attempt })));
}

/** The journals of every step of a run that started an attempt. */
export function runJournals(runId: string, store: ValueStore = getDefaultStore()): Promise<StepJournal[]> {
  return listStepJournals(store, runId);
}
