import { OpgraphError } from '../dsl/errors.ts';
import { stepKey as formatStepKey } from '../dsl/keys.ts';
import type { ScopeResult, StepError, StepRecord, StepStatus, TaskOutput } from '../dsl/protocol.ts';
import { loadItems, materialize } from '../store/store.ts';

export type RunStatus = 'SUCCESS' | 'FAILURE' | 'CANCELED';

export interface StepFailure {
  readonly stepKey: string;
  /** Stable failure type: `OpUserError` when the op's code threw, `OpValidationError`, `Timeout`… */
  readonly type: string;
  /** Class of what the op's code threw (`RangeError`, a user-defined class); absent for other failures. */
  readonly errorClass?: string;
  readonly message: string;
}

/** The outcome of one run: status, every step's status, outputs by node, failures by step key. */
export class JobResult {
  readonly success: boolean;
  readonly failures: readonly StepFailure[];

  constructor(
    readonly jobName: string,
    readonly runId: string,
    readonly workflowId: string,
    readonly status: RunStatus,
    private readonly result: ScopeResult,
    /** Why the run failed when no step did (e.g. cancelled or terminated). */
    readonly runError?: StepError,
  ) {
    this.success = status === 'SUCCESS';
    this.failures = Object.entries(result.steps)
      .filter(([, r]) => r.status === 'FAILURE')
      .map(([stepKey, r]) => ({
        stepKey,
        type: r.error?.type ?? 'Error',
        ...(r.error?.errorClass ? { errorClass: r.error.errorClass } : {}),
        message: r.error?.message ?? '',
      }));
  }

  /**
   * A node's output. For a static node: its value. For a mapped node (or a fan-out op's dynamic
   * output): `{ mappingKey: value }` in yield order (nested keys joined with commas).
   */
  async outputFor(node: string, output = 'result'): Promise<unknown> {
    const records = this.recordsOf(node);
    if (records.length === 0) {
      throw new OpgraphError(
        `job "${this.jobName}" has no step for node "${node}" in run ${this.runId}; nodes: ${this.nodes().join(', ')}`,
      );
    }
    const mapped = records.some((r) => r.mappingKeys.length > 0);
    const produced = records.flatMap((r) => {
      const found = r.outputs?.find((o) => o.name === output);
      return found ? [{ record: r, output: found }] : [];
    });
    if (produced.length === 0) {
      throw new OpgraphError(
        `No outputs found for output '${output}' from node '${node}' in run ${this.runId} (step status: ${records.map((r) => r.status).join(', ')}).`,
      );
    }
    const valueOf = async (o: TaskOutput): Promise<unknown> => {
      if (o.kind === 'value') return materialize(o.value);
      const items = o.kind === 'items' ? o.items : await loadItems(o.itemsRef);
      return Object.fromEntries(await Promise.all(items.map(async ([k, v]) => [k, await materialize(v)] as const)));
    };
    const first = produced[0];
    if (!mapped && first) return valueOf(first.output);
    const entries = await Promise.all(
      produced.map(async ({ record, output: o }) => [record.mappingKeys.join(','), await valueOf(o)] as const),
    );
    return Object.fromEntries(entries);
  }

  stepStatus(stepKey: string): StepStatus | undefined {
    return this.result.steps[stepKey]?.status;
  }

  /** Every step key with its status, in execution-plan order (static steps, then clones in yield order). */
  stepStatuses(): Record<string, StepStatus> {
    return Object.fromEntries(Object.entries(this.result.steps).map(([key, r]) => [key, r.status]));
  }

  /** The raw per-step records (status, outputs, error, attempts). */
  steps(): Readonly<Record<string, StepRecord>> {
    return this.result.steps;
  }

  stepKeysOf(node: string): string[] {
    return this.recordsOf(node).map((r) => formatStepKey(r.node, r.mappingKeys));
  }

  private recordsOf(node: string): StepRecord[] {
    return Object.values(this.result.steps).filter((r) => r.node === node);
  }

  private nodes(): string[] {
    return [...new Set(Object.values(this.result.steps).map((r) => r.node))];
  }
}
