import { defineQuery, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { ShardResult, StepRecord, StepStatus } from '../dsl/protocol.ts';

export interface NodeProgress {
  running: number;
  succeeded: number;
  failed: number;
  skipped: number;
  abandoned: number;
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

export interface RunProgress {
  job: string;
  runId: string;
  /** Per node: step counts across all its mapping keys known to this workflow. */
  nodes: Record<string, NodeProgress>;
  /** Per dynamic dimension directly below this workflow. */
  dimensions: Record<string, DimensionProgress>;
}

/** `progress` query: what `opgraph status` and the CLI's live view read. */
export const progressQuery = defineQuery<RunProgress>('progress');

const STATUS_FIELD: Record<StepStatus, keyof NodeProgress> = {
  SUCCESS: 'succeeded',
  FAILURE: 'failed',
  SKIPPED: 'skipped',
  ABANDONED: 'abandoned',
};

/** Where a scope reports progress. */
export interface ProgressSink {
  stepStarted(node: string): void;
  stepFinished(record: StepRecord, wasRunning: boolean): void;
  childSteps(steps: Readonly<Record<string, StepRecord>>): void;
  dimensionKeys(dim: string, total: number): void;
  childStarted(dim: string): void;
  childFinished(dim: string, failed: boolean): void;
  shardFinished(dim: string, keys: number, result: ShardResult): void;
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

/** Counts kept by a scope workflow, served by the `progress` query and shown as the UI's current details. */
export class ProgressTracker implements ProgressSink {
  private readonly state: RunProgress;

  constructor(job: string, runId: string, nodeIds: readonly string[]) {
    this.state = { job, runId, nodes: {}, dimensions: {} };
    for (const id of nodeIds) this.node(id);
    setHandler(progressQuery, () => this.state);
    this.publish();
  }

  stepStarted(node: string): void {
    this.node(node).running++;
    this.publish();
  }

  stepFinished(record: StepRecord, wasRunning: boolean): void {
    const counts = this.node(record.node);
    if (wasRunning) counts.running--;
    counts[STATUS_FIELD[record.status]]++;
    this.publish();
  }

  /** Records reported by a finished child: its steps (and its own children's) count here too. */
  childSteps(steps: Readonly<Record<string, StepRecord>>): void {
    for (const record of Object.values(steps)) this.node(record.node)[STATUS_FIELD[record.status]]++;
    this.publish();
  }

  dimensionKeys(dim: string, total: number): void {
    this.dimension(dim).total = total;
    this.publish();
  }

  childStarted(dim: string): void {
    this.dimension(dim).running++;
    this.publish();
  }

  childFinished(dim: string, failed: boolean): void {
    const counts = this.dimension(dim);
    counts.running--;
    counts.done++;
    if (failed) counts.failed++;
    this.publish();
  }

  /** A shard's keys are all done: count them and its steps' statuses. */
  shardFinished(dim: string, keys: number, result: ShardResult): void {
    const counts = this.dimension(dim);
    counts.done += keys;
    counts.failed += new Set(result.failures.map((f) => f.stepKey.replace(/^[^[]*/, ''))).size;
    for (const [node, summary] of Object.entries(result.nodes)) {
      const progress = this.node(node);
      for (const [status, n] of Object.entries(summary.statuses)) {
        const field = STATUS_FIELD[status as StepStatus];
        if (field) progress[field] += n;
      }
    }
    this.publish();
  }

  private node(id: string): NodeProgress {
    this.state.nodes[id] ??= { running: 0, succeeded: 0, failed: 0, skipped: 0, abandoned: 0 };
    return this.state.nodes[id];
  }

  private dimension(id: string): DimensionProgress {
    this.state.dimensions[id] ??= { total: 0, running: 0, done: 0, failed: 0 };
    return this.state.dimensions[id];
  }

  /** The Web UI shows this markdown as the workflow's current details. */
  private publish(): void {
    const lines = [`**${this.state.job}** · run \`${this.state.runId}\``, ''];
    for (const [dim, d] of Object.entries(this.state.dimensions)) {
      lines.push(`- map over \`${dim}\`: ${d.done}/${d.total} keys done, ${d.running} running, ${d.failed} failed`);
    }
    for (const [node, n] of Object.entries(this.state.nodes)) {
      const parts = [`${n.succeeded} ok`];
      if (n.running) parts.push(`${n.running} running`);
      if (n.failed) parts.push(`${n.failed} failed`);
      if (n.skipped) parts.push(`${n.skipped} skipped`);
      if (n.abandoned) parts.push(`${n.abandoned} abandoned`);
      lines.push(`- \`${node}\`: ${parts.join(', ')}`);
    }
    setCurrentDetails(lines.join('\n'));
  }
}
