import { OpgraphError, OutputNotFoundError } from '../dsl/errors.ts';
import type { GraphOutput, JobPlan } from '../dsl/plan.ts';
import { stepKey as formatStepKey } from '../dsl/keys.ts';
import type { ScopeResult, StepError, StepRecord, StepStatus } from '../dsl/protocol.ts';
import { loadItems, materialize } from '../store/store.ts';
import { type StepLogEntry, stepLogs } from './logs.ts';
import { type FailedKey, type MapFailures, mapFailures, type StepFailure, stepFailure } from './tolerance.ts';

export type RunStatus = 'SUCCESS' | 'FAILURE' | 'CANCELLED';
export type { FailedKey, MapFailures, StepFailure };

/** The outcome of one run: status, every step's status, outputs by node, failures by step key. */
export class JobResult {
  readonly success: boolean;
  /** The failed steps that failed the run (a failure within its map's `toleratedFailures` is not one of them). */
  readonly failures: readonly StepFailure[];
  /**
   * Maps with `toleratedFailures` whose failed keys stayed within it: the keys, their failed steps
   * and errors. The run's status does not count them; their steps still report FAILURE.
   */
  readonly toleratedFailures: readonly MapFailures[];
  /**
   * Maps with more failed keys than their `toleratedFailures` allow (their collects' consumers were
   * abandoned): their failures are among `failures`, unless an enclosing map tolerated their key.
   */
  readonly toleranceExceeded: readonly MapFailures[];

  constructor(
    readonly jobName: string,
    readonly runId: string,
    readonly workflowId: string,
    readonly status: RunStatus,
    private readonly result: ScopeResult,
    /** Why the run failed when no step did (e.g. cancelled or terminated). */
    readonly runError?: StepError,
    /** The plan the run started with: lets `outputFor` resolve graph nodes and know unrun nodes. */
    private readonly plan?: JobPlan,
  ) {
    this.success = status === 'SUCCESS';
    const { maps, tolerated } = mapFailures(plan, result.steps);
    this.toleratedFailures = maps.filter((m) => !m.exceeded);
    this.toleranceExceeded = maps.filter((m) => m.exceeded);
    this.failures = Object.entries(result.steps)
      .filter(([stepKey, r]) => r.status === 'FAILURE' && !tolerated.has(stepKey))
      .map(([stepKey, r]) => stepFailure(stepKey, r));
  }

  /**
   * A node's output, as Dagster's `output_for_node`.
   *
   * - A static op's regular output: its value.
   * - A mapped op (or a fan-out op's dynamic output): a `Map` from mapping key to value, in yield
   *   order whatever the keys look like (`"10"`, `"2"`, `"1"` stay in that order). For a nested
   *   fan-out the key is the comma-joined path, outermost first: `op[a,x]` is `"a,x"`, and the
   *   dynamic output of a mapped fan-out op is keyed the same way (`"a,x"` for item `x` of key `a`).
   *   Need a plain object? `Object.fromEntries(map)` (integer-like keys then lose their order).
   * - A graph node (`sizes`, `outer.inner`, also a mapped graph): the output of the op its body
   *   returned, as above; a graph that returned a `.collect()` gives that list.
   *
   * Throws OutputNotFoundError when the output was not produced — a DynamicOut with zero items, a
   * mapped node with no clones, an optional output that was not yielded, a step that failed or was
   * skipped — and OpgraphError for a node or output the job does not have.
   */
  async outputFor(node: string, output = 'result'): Promise<unknown> {
    const graphOutputs = this.plan?.graphOutputs?.[node];
    if (graphOutputs) {
      const target = graphOutputs[output];
      if (!target) {
        throw new OpgraphError(
          `graph node "${node}" of job "${this.jobName}" has no output "${output}"; its outputs: ${Object.keys(graphOutputs).join(', ')}`,
        );
      }
      return target.kind === 'collect' ? this.collectedValues(node, target) : this.outputFor(target.node, target.output);
    }
    const planNode = this.plan?.nodes.find((n) => n.id === node);
    const records = this.recordsOf(node);
    if (!planNode && records.length === 0) {
      throw new OpgraphError(`job "${this.jobName}" has no node "${node}" (run ${this.runId}); nodes: ${this.nodes().join(', ')}`);
    }
    const declared = planNode?.outputs.find((o) => o.name === output);
    if (planNode && !declared) {
      throw new OpgraphError(
        `node "${node}" of job "${this.jobName}" has no output "${output}"; its outputs: ${planNode.outputs.map((o) => o.name).join(', ')}`,
      );
    }
    const produced = records.flatMap((record) => {
      const found = record.outputs?.find((o) => o.name === output);
      return found ? [{ record, output: found }] : [];
    });
    const keyed = planNode
      ? planNode.dim.length > 0 || declared?.dynamic === true
      : records.some((r) => r.mappingKeys.length > 0) || produced.some((p) => p.output.kind !== 'value');
    if (!keyed) {
      const found = produced[0]?.output;
      if (found?.kind === 'value') return materialize(found.value);
      throw this.notFound(node, output, records);
    }
    const entries: (readonly [string, unknown])[] = [];
    for (const { record, output: o } of produced) {
      if (o.kind === 'value') {
        entries.push([record.mappingKeys.join(','), o.value]);
        continue;
      }
      const items = o.kind === 'items' ? o.items : await loadItems(o.itemsRef);
      for (const [key, value] of items) entries.push([[...record.mappingKeys, key].join(','), value]);
    }
    if (entries.length === 0) throw this.notFound(node, output, records);
    return new Map(await Promise.all(entries.map(async ([key, value]) => [key, await materialize(value)] as const)));
  }

  /**
   * The `ctx.log` lines of a step, every attempt, oldest first, read from the store (the last
   * LOG_LINES_KEPT lines of each attempt are kept); [] for a step that never ran an attempt.
   */
  logs(stepKey: string): Promise<StepLogEntry[]> {
    return stepLogs(this.runId, stepKey);
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

  /** Step keys a re-execution took over from its parent run without running them again (none for other runs). */
  reusedStepKeys(): string[] {
    return Object.entries(this.result.steps).flatMap(([key, r]) => (r.reused ? [key] : []));
  }

  /** Step keys this run evaluated itself: ran (or failed, skipped, abandoned) here rather than taken over. */
  ranStepKeys(): string[] {
    return Object.entries(this.result.steps).flatMap(([key, r]) => (r.reused ? [] : [key]));
  }

  stepKeysOf(node: string): string[] {
    return this.recordsOf(node).map((r) => formatStepKey(r.node, r.mappingKeys));
  }

  /**
   * A graph output that is a `.collect()`: the list the collect gathers, in yield order — one list
   * per outer key (a Map) when the collected dimension is nested. Zero items give `[]`, as the
   * collect's consumer gets; a fan-out that produced nothing (optional, or not run) throws.
   */
  private async collectedValues(graph: string, target: GraphOutput): Promise<unknown> {
    const planNode = this.plan?.nodes.find((n) => n.id === target.node);
    const declared = planNode?.outputs.find((o) => o.name === target.output);
    if (!planNode || !declared) throw new OpgraphError(`graph node "${graph}" returns "${target.node}", which the plan does not have`);
    // A collect of a dynamic output gathers its items; of a mapped node, its innermost dimension.
    const fanOut = declared.dynamic ? `${target.node}:${target.output}` : planNode.dim[planNode.dim.length - 1];
    const depth = declared.dynamic ? planNode.dim.length : planNode.dim.length - 1;
    const separator = fanOut?.lastIndexOf(':') ?? -1;
    const [fanOutNode, fanOutOutput] = fanOut ? [fanOut.slice(0, separator), fanOut.slice(separator + 1)] : ['', ''];
    const lists = new Map<string, unknown[]>();
    for (const record of this.recordsOf(fanOutNode)) {
      if (record.outputs?.some((o) => o.name === fanOutOutput)) lists.set(record.mappingKeys.join(','), []);
    }
    if (lists.size === 0) throw this.notFound(target.node, target.output, this.recordsOf(target.node));
    const values = await this.outputFor(target.node, target.output).catch((err: unknown) => {
      if (err instanceof OutputNotFoundError) return new Map<string, unknown>();
      throw err;
    });
    for (const [key, value] of values as Map<string, unknown>) {
      lists.get(key.split(',').slice(0, depth).join(','))?.push(value);
    }
    return depth === 0 ? (lists.get('') ?? []) : lists;
  }

  private notFound(node: string, output: string, records: readonly StepRecord[]): OutputNotFoundError {
    const statuses = [...new Set(records.map((r) => r.status))];
    let hint: string;
    if (records.length === 0) {
      hint = 'no step of this node ran: it is mapped over a dynamic output that produced no items (or was skipped)';
    } else if (statuses.length === 1 && statuses[0] === 'SUCCESS') {
      const dynamic = records.some((r) => r.outputs?.some((o) => o.name === output && o.kind !== 'value'));
      hint = dynamic
        ? 'the step succeeded and yielded no items for this dynamic output'
        : 'the step succeeded without producing this output (it is optional: new Out({ isRequired: false }))';
    } else {
      hint = `step status: ${statuses.join(', ')}`;
    }
    return new OutputNotFoundError(
      node,
      output,
      `No outputs found for output '${output}' from node '${node}' in run ${this.runId} (${hint}).`,
    );
  }

  private recordsOf(node: string): StepRecord[] {
    return Object.values(this.result.steps).filter((r) => r.node === node);
  }

  private nodes(): string[] {
    if (this.plan) return [...this.plan.nodes.map((n) => n.id), ...Object.keys(this.plan.graphOutputs ?? {})];
    return [...new Set(Object.values(this.result.steps).map((r) => r.node))];
  }
}
