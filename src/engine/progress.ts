/** Progress of a scope: what it reports as steps and keys run (the host decides where it shows). */
import { stepKey } from '../dsl/keys.ts';
import type { ShardResult, StepError, StepRecord, StepStatus } from '../dsl/protocol.ts';
import type { JobPlan } from '../dsl/plan.ts';
import { doomedNodes } from './doomed.ts';
import { mapName } from './maps.ts';
import { waitingText, type WaitingSummary } from './redrive.ts';

export interface NodeProgress {
  running: number;
  succeeded: number;
  failed: number;
  skipped: number;
  abandoned: number;
  /** Steps that failed and wait for a redrive, run by this workflow itself (absent when none ever waited). */
  waiting?: number;
  /** Of `running`: steps whose last attempt failed and that retry (or wait for their backoff) now (absent when none ever did). */
  retrying?: number;
  /** The first NAMED_KEYS of those, by step key (the rest are only counted). */
  retryingKeys?: RetryingKey[];
  /** The first NAMED_KEYS steps of `failed`, named as they fail (absent until one does). */
  failedKeys?: FailedKey[];
}

/** A step retrying: the attempt it is on (or waits to start), out of how many, and the last attempt's error. */
export interface RetryingKey {
  stepKey: string;
  attempt: number;
  of: number;
  error: string;
}

export interface FailedKey {
  stepKey: string;
  error: string;
}

/** How many retrying or failed step keys a node names in its progress; the others are counted only. */
export const NAMED_KEYS = 8;

/**
 * An error as one short line (progress is read every second; messages can be long): the op runner's
 * `ValueError (at mine/ops.ts:13:30): boom` without its `[job step] op "x" raised ` lead, else `Type: message`.
 */
export function shortError(error: StepError | undefined): string {
  if (!error) return '';
  const raised = /^\[.*?\] op "[^"]*" raised (.*)$/s.exec(error.message)?.[1];
  const text = (raised ?? `${error.errorClass ?? error.type}: ${error.message}`).split('\n')[0] ?? '';
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

export interface DimensionProgress {
  /** Mapping keys yielded so far (0 until the fan-out op finishes). */
  total: number;
  /** Per-key children running now. */
  running: number;
  /** Per-key children finished (whatever their steps' statuses). */
  done: number;
  /** Per-key children that reported a failed step. */
  failed: number;
}

/** A map paused or resized while the run runs (absent for maps never controlled). */
export interface MapControlProgress {
  paused: boolean;
  /** Its window now, and as planned. */
  maxConcurrency: number;
  planned: number;
  /** Its keys run in shard workflows: this workflow does not see them start, only shards finish. */
  sharded?: boolean;
}

export interface RunProgress {
  job: string;
  runId: string;
  /** Per node: step counts across all its mapping keys known to this workflow. */
  nodes: Record<string, NodeProgress>;
  /** Per dynamic dimension directly below this workflow. */
  dimensions: Record<string, DimensionProgress>;
  /** Per dimension id, the maps paused or resized so far (absent until one is). */
  controls?: Record<string, MapControlProgress>;
  /** A job with onStepFailure 'wait': its failed steps waiting for a redrive (absent until one waits). */
  waiting?: WaitingSummary;
  /**
   * Nodes that will never run: a step they depend on through a collect failed for good (job
   * workflow only; see doomedNodes). Shown abandoned before their records say so. Absent until one is.
   */
  doomed?: string[];
}

/** Where a scope reports progress. */
export interface ProgressSink {
  stepStarted(node: string): void;
  stepFinished(record: StepRecord, wasRunning: boolean): void;
  childSteps(steps: Readonly<Record<string, StepRecord>>): void;
  dimensionKeys(dim: string, total: number): void;
  childStarted(dim: string): void;
  childFinished(dim: string, failed: boolean): void;
  shardFinished(dim: string, keys: number, result: ShardResult): void;
  /** The dimension's keys run in shards (so keys in flight are not counted here). */
  dimensionSharded?(dim: string): void;
  /** A failed step of this workflow starts (true) or stops (false) waiting for a redrive. */
  stepWaiting?(node: string, waiting: boolean): void;
  /** A key run here is redriven: its failed and abandoned steps, counted when they ended, run again. */
  stepsRedriven?(steps: Readonly<Record<string, StepRecord>>): void;
  /**
   * A step's attempt failed and the step retries (`retry`: the attempt it goes on to), or it stopped
   * retrying (undefined: it succeeded, or failed for good). Synchronous: the workflow issues no command for it.
   */
  stepRetrying?(node: string, stepKey: string, retry: Omit<RetryingKey, 'stepKey'> | undefined): void;
}

/** For scopes nobody watches (inside a batch activity). */
export const NO_PROGRESS: ProgressSink = {
  stepStarted: () => {},
  stepFinished: () => {},
  childSteps: () => {},
  dimensionKeys: () => {},
  childStarted: () => {},
  childFinished: () => {},
  shardFinished: () => {},
};

const STATUS_FIELD: Record<StepStatus, 'succeeded' | 'failed' | 'skipped' | 'abandoned'> = {
  SUCCESS: 'succeeded',
  FAILURE: 'failed',
  SKIPPED: 'skipped',
  ABANDONED: 'abandoned',
};

/** Counts a scope's steps and keys; `changed` is called after every update (a host publishes them). */
export class ProgressCounter implements ProgressSink {
  readonly state: RunProgress;

  constructor(
    job: string,
    runId: string,
    nodeIds: readonly string[],
    private readonly changed: (state: RunProgress) => void = () => {},
  ) {
    this.state = { job, runId, nodes: {}, dimensions: {} };
    for (const id of nodeIds) this.node(id);
    this.changed(this.state);
  }

  stepStarted(node: string): void {
    this.node(node).running++;
    this.changed(this.state);
  }

  stepFinished(record: StepRecord, wasRunning: boolean): void {
    const counts = this.node(record.node);
    if (wasRunning) counts.running--;
    counts[STATUS_FIELD[record.status]]++;
    this.nameFailed(record);
    this.changed(this.state);
  }

  /** Records reported by a finished child: its steps (and its own children's) count here too. */
  childSteps(steps: Readonly<Record<string, StepRecord>>): void {
    for (const record of Object.values(steps)) {
      this.node(record.node)[STATUS_FIELD[record.status]]++;
      this.nameFailed(record);
    }
    this.changed(this.state);
  }

  /** Per node, every step retrying now (the state names the first NAMED_KEYS). */
  private readonly retries = new Map<string, Map<string, RetryingKey>>();

  stepRetrying(node: string, key: string, retry: Omit<RetryingKey, 'stepKey'> | undefined): void {
    const keys = this.retries.get(node) ?? new Map<string, RetryingKey>();
    this.retries.set(node, keys);
    if (retry) keys.set(key, { stepKey: key, ...retry });
    else if (!keys.delete(key)) return;
    const counts = this.node(node);
    counts.retrying = keys.size;
    counts.retryingKeys = [...keys.values()].slice(0, NAMED_KEYS);
    this.changed(this.state);
  }

  /** The job's plan, where doomed nodes are worked out (the job workflow sets it). */
  plan?: JobPlan;

  private doom(node: string): void {
    if (!this.plan) return;
    const doomed = doomedNodes(this.plan, node);
    if (doomed.length === 0) return;
    const known = new Set(this.state.doomed ?? []);
    for (const id of doomed) known.add(id);
    this.state.doomed = [...known];
  }

  private nameFailed(record: StepRecord): void {
    if (record.status !== 'FAILURE') return;
    if (!record.tolerated) this.doom(record.node);
    const counts = this.node(record.node);
    const named = (counts.failedKeys ??= []);
    const key = stepKey(record.node, record.mappingKeys);
    if (named.length < NAMED_KEYS && !named.some((f) => f.stepKey === key)) named.push({ stepKey: key, error: shortError(record.error) });
  }

  dimensionKeys(dim: string, total: number): void {
    this.dimension(dim).total = total;
    this.changed(this.state);
  }

  childStarted(dim: string): void {
    this.dimension(dim).running++;
    this.changed(this.state);
  }

  childFinished(dim: string, failed: boolean): void {
    const counts = this.dimension(dim);
    counts.running--;
    counts.done++;
    if (failed) counts.failed++;
    this.changed(this.state);
  }

  private readonly sharded = new Set<string>();

  stepWaiting(node: string, waiting: boolean): void {
    const counts = this.node(node);
    // A waiting step is not running; it runs again when redriven (or ends failed when given up).
    counts.waiting = Math.max(0, (counts.waiting ?? 0) + (waiting ? 1 : -1));
    counts.running += waiting ? -1 : 1;
    this.changed(this.state);
  }

  stepsRedriven(steps: Readonly<Record<string, StepRecord>>): void {
    for (const record of Object.values(steps)) {
      if (record.status !== 'FAILURE' && record.status !== 'ABANDONED') continue;
      const counts = this.node(record.node);
      const field = STATUS_FIELD[record.status];
      counts[field] = Math.max(0, (counts[field] ?? 0) - 1);
      const key = stepKey(record.node, record.mappingKeys);
      if (counts.failedKeys) counts.failedKeys = counts.failedKeys.filter((f) => f.stepKey !== key);
    }
    this.changed(this.state);
  }

  /** The job's failed steps waiting for a redrive, all units together (cleared when none waits). */
  waitingChanged(summary: WaitingSummary): void {
    if (summary.steps > 0) this.state.waiting = summary;
    else delete this.state.waiting;
    this.changed(this.state);
  }

  /** A map was paused, resumed or resized. */
  mapControlled(dim: string, control: MapControlProgress): void {
    (this.state.controls ??= {})[dim] = this.sharded.has(dim) ? { ...control, sharded: true } : control;
    this.changed(this.state);
  }

  dimensionSharded(label: string): void {
    const dim = label.replace(/ \(stage \d+\)$/, '');
    this.sharded.add(dim);
    const control = this.state.controls?.[dim];
    if (control && !control.sharded) this.mapControlled(dim, control);
  }

  /** A shard's keys are all done: count them and its steps' statuses. */
  shardFinished(dim: string, keys: number, result: ShardResult): void {
    const counts = this.dimension(dim);
    counts.done += keys;
    counts.failed += new Set(result.failures.map((f) => f.stepKey.replace(/^[^[]*/, ''))).size;
    for (const [node, summary] of Object.entries(result.nodes)) {
      const progress = this.node(node);
      const named = (progress.failedKeys ??= []);
      for (const f of result.failures) {
        if (f.tolerated || !f.stepKey.startsWith(`${node}[`)) continue;
        this.doom(node);
        if (named.length >= NAMED_KEYS) continue;
        if (!named.some((n) => n.stepKey === f.stepKey)) named.push({ stepKey: f.stepKey, error: shortError(f.error) });
      }
      if (named.length === 0) delete progress.failedKeys;
      for (const [status, n] of Object.entries(summary.statuses)) {
        const field = STATUS_FIELD[status as StepStatus];
        if (field) progress[field] += n;
      }
    }
    this.changed(this.state);
  }

  private node(id: string): NodeProgress {
    this.state.nodes[id] ??= { running: 0, succeeded: 0, failed: 0, skipped: 0, abandoned: 0 };
    return this.state.nodes[id];
  }

  private dimension(id: string): DimensionProgress {
    this.state.dimensions[id] ??= { total: 0, running: 0, done: 0, failed: 0 };
    return this.state.dimensions[id];
  }
}

/** The markdown the Web UI shows as a workflow's current details. */
export function progressMarkdown(state: RunProgress): string {
  const lines = [`**${state.job}** · run \`${state.runId}\``, ''];
  if (state.waiting)
    lines.push(`**${waitingText(state.waiting)}**: redrive with \`opgraph redrive\`, or end the run with \`opgraph give-up\``, '');
  for (const [dim, d] of Object.entries(state.dimensions)) {
    lines.push(`- map over \`${dim}\`: ${d.done}/${d.total} keys done, ${d.running} running, ${d.failed} failed`);
  }
  for (const [dim, control] of Object.entries(state.controls ?? {})) {
    lines.push(`- \`${mapName(dim)}\`: ${controlText(control, keysOf(state, dim))}`);
  }
  const doomed = new Set(state.doomed ?? []);
  for (const [node, n] of Object.entries(state.nodes)) {
    const parts = [`${n.succeeded} ok`];
    if (doomed.has(node) && n.running + n.succeeded + n.abandoned === 0) parts.push('abandoned (an upstream step failed)');
    if (n.running) parts.push(`${n.running - (n.retrying ?? 0)} running`);
    if (n.retrying) parts.push(`${n.retrying} retrying (${retryingText(n)})`);
    if (n.failed) parts.push(`${n.failed} failed${n.failedKeys?.length ? ` (${failedText(n)})` : ''}`);
    if (n.skipped) parts.push(`${n.skipped} skipped`);
    if (n.abandoned) parts.push(`${n.abandoned} abandoned`);
    if (n.waiting) parts.push(`${n.waiting} waiting for a redrive`);
    lines.push(`- \`${node}\`: ${parts.join(', ')}`);
  }
  return lines.join('\n');
}

/** A map's keys running and waiting, over all its stages, where this workflow runs them (undefined elsewhere). */
export function keysOf(state: RunProgress, dim: string): { inFlight: number; waiting: number } | undefined {
  if (state.controls?.[dim]?.sharded) return undefined;
  const stages = Object.entries(state.dimensions).filter(([label]) => label === dim || label.startsWith(`${dim} (stage `));
  if (stages.length === 0) return undefined;
  let inFlight = 0;
  let waiting = 0;
  for (const [, d] of stages) {
    inFlight += d.running;
    waiting += Math.max(0, d.total - d.done - d.running);
  }
  return { inFlight, waiting };
}

/** `paused (12 in flight, 388 waiting)`, `window 50 → 10`, both, or `resumed`. */
export function controlText(control: MapControlProgress, keys?: { inFlight: number; waiting: number }): string {
  const parts: string[] = [];
  if (control.paused) parts.push(`paused${keys ? ` (${keys.inFlight} in flight, ${keys.waiting} waiting)` : ''}`);
  if (control.maxConcurrency !== control.planned) parts.push(`window ${control.planned} → ${control.maxConcurrency}`);
  return parts.length > 0 ? parts.join(', ') : 'resumed';
}

/** `k2: attempt 2 of 4, last error: ValueError: boom; …; +3 more` for a node's retrying steps. */
export function retryingText(n: NodeProgress): string {
  const named = (n.retryingKeys ?? []).map((r) => `${r.stepKey}: attempt ${r.attempt} of ${r.of}, last error: ${r.error}`);
  return withMore(named, n.retrying ?? 0);
}

/** `k5: ValueError: boom; +2 more` for a node's failed steps named so far. */
export function failedText(n: NodeProgress): string {
  const named = (n.failedKeys ?? []).map((f) => (f.error ? `${f.stepKey}: ${f.error}` : f.stepKey));
  return withMore(named, n.failed);
}

function withMore(named: readonly string[], total: number): string {
  const more = total - named.length;
  return more > 0 ? [...named, `+${more} more`].join('; ') : named.join('; ');
}
