/**
 * The op runner's side of per-step journals (src/store/stepLogs.ts): records an attempt as it
 * starts, its ctx.log lines as they come (written at most once per FLUSH_MS), and how it ended.
 * A journal that cannot be written never fails the step: the first problem is logged once.
 */
import type { Context } from '@temporalio/activity';
import { BATCH_ACTIVITY } from '../dsl/constants.ts';
import type { OpTaskInput, StepError } from '../dsl/protocol.ts';
import { getDefaultStore } from '../store/store.ts';
import {
  type AttemptJournal,
  LOG_LINE_CHARS,
  LOG_LINES_KEPT,
  type LogLevel,
  readStepJournal,
  type StepJournal,
  stepJournalName,
} from '../store/stepLogs.ts';
import type { ValueStore } from '../store/types.ts';

const FLUSH_MS = 1_000;
let warned = false;

/** `OPGRAPH_STEP_LOGS=0` (or `off`, `false`) turns journals off: no store writes per step, no step logs. */
function journalsEnabled(): boolean {
  const setting = process.env.OPGRAPH_STEP_LOGS?.trim().toLowerCase();
  return !(setting === '0' || setting === 'off' || setting === 'false');
}

export class StepJournalWriter {
  private journal: StepJournal | undefined;
  private readonly attempt: AttemptJournal;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private ready: Promise<void>;
  private readonly enabled = journalsEnabled();
  /**
   * Inside a batch activity (thousands of keys per activity, 1,000,000 per run) a step's journal is
   * written only when there is something to read: log lines, a failure. A quiet success costs nothing.
   */
  private readonly lazy: boolean;

  constructor(
    private readonly task: OpTaskInput,
    activity: Context,
    private readonly store: ValueStore = getDefaultStore(),
  ) {
    const info = activity.info;
    this.attempt = {
      attempt: task.attempt,
      state: 'running',
      startedAt: Date.now(),
      workflowId: info.workflowExecution?.workflowId ?? '',
      workflowRunId: info.workflowExecution?.runId ?? '',
      activityId: info.activityId,
      logs: [],
      droppedLines: 0,
    };
    this.lazy = info.activityType === BATCH_ACTIVITY;
    this.ready = this.enabled && !this.lazy ? this.load() : Promise.resolve();
    if (!this.lazy) void this.flush();
  }

  log(level: LogLevel, message: string, extra?: Record<string, unknown>): void {
    const text = message.length > LOG_LINE_CHARS ? `${message.slice(0, LOG_LINE_CHARS)}… (${message.length} characters)` : message;
    let extraText: string | undefined;
    if (extra && Object.keys(extra).length > 0) {
      try {
        extraText = JSON.stringify(extra).slice(0, LOG_LINE_CHARS);
      } catch {
        extraText = '(extra is not JSON)';
      }
    }
    if (!this.enabled) return;
    this.attempt.logs.push({ at: Date.now(), level, message: text, ...(extraText ? { extra: extraText } : {}) });
    if (this.attempt.logs.length > LOG_LINES_KEPT) {
      this.attempt.logs.splice(0, this.attempt.logs.length - LOG_LINES_KEPT);
      this.attempt.droppedLines++;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, FLUSH_MS);
    this.timer.unref();
  }

  /** The attempt ended: its final state is written before the activity completes. */
  async finish(state: 'succeeded' | 'failed' | 'cancelled', error?: StepError, willRetry?: boolean): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.attempt.state = state;
    this.attempt.endedAt = Date.now();
    if (error) this.attempt.error = error;
    if (willRetry) this.attempt.willRetry = true;
    if (this.lazy) {
      if (!this.enabled || (state === 'succeeded' && this.attempt.logs.length === 0)) return;
      this.ready = this.load();
    }
    await this.flush();
  }

  private async load(): Promise<void> {
    // Earlier attempts of this step key ran before (user retries are sequential; a redriven key starts
    // again at attempt 1): keep them, in the order they ran.
    const earlier = await readStepJournal(this.store, this.task.runId, this.task.stepKey).catch(() => undefined);
    this.journal = {
      runId: this.task.runId,
      stepKey: this.task.stepKey,
      node: this.task.node,
      mappingKeys: this.task.mappingKeys,
      // The same attempt still "running" was cut short (Temporal retried the activity after a lost worker): replaced.
      attempts: [...(earlier?.attempts.filter((a) => !(a.attempt === this.task.attempt && a.state === 'running')) ?? []), this.attempt],
    };
  }

  private async flush(): Promise<void> {
    await this.ready.catch(() => undefined);
    const journal = this.journal;
    if (!journal) return;
    const json = JSON.stringify(journal);
    // Writes are serialized so a slow early write never lands after a later one.
    this.writing = this.writing.then(() =>
      this.store.putNamed(stepJournalName(journal.runId, journal.stepKey), json).catch((err: unknown) => {
        if (warned) return;
        warned = true;
        console.warn(
          `opgraph: cannot write the step log of ${journal.stepKey} to the store (${(err as Error).message}); step logs are incomplete.`,
        );
      }),
    );
    await this.writing;
  }
}
