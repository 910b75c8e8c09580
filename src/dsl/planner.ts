import { durationMs } from './duration.ts';
import { type DimensionOptions, dimensionId, type InputSource, type JobPlan, PLAN_VERSION, type PlanNode } from './plan.ts';
import type { OpTimeouts } from './op.ts';
import type { RetryPolicy } from './outputs.ts';
import type { TracedNode, Tracer } from './trace.ts';
import { KEY_EVENT_ROOM, stepEvents } from './limits.ts';

const DEFAULT_START_TO_CLOSE_MS = 24 * 3_600_000;
const DEFAULT_HEARTBEAT_MS = 30_000;

/**
 * Turns what a job body recorded into a plan: computes each node's dynamic dimension from its
 * data dependencies (Dagster maps by dependency, not by the lambda's scope) and records every
 * definition problem on the tracer.
 */
export interface JobOpDefaults {
  /** Retry policy for ops that declare none (Dagster's job `op_retry_policy`). */
  readonly opRetryPolicy?: RetryPolicy | undefined;
  /** Timeouts for ops that do not set their own. */
  readonly opTimeouts?: OpTimeouts | undefined;
}

export function buildPlan(tracer: Tracer, description: string | undefined, defaults: JobOpDefaults = {}): JobPlan {
  const dims = new Map<string, string[]>();
  const traced = new Map<string, TracedNode>();
  const nodes: PlanNode[] = [];
  for (const node of tracer.nodes) {
    traced.set(node.id, node);
    const dim = dimensionOf(node, traced, dims, tracer);
    dims.set(node.id, dim);
    const policy = node.spec.retryPolicy ?? defaults.opRetryPolicy;
    const startToClose = node.spec.timeouts.startToClose ?? defaults.opTimeouts?.startToClose;
    const heartbeat = node.spec.timeouts.heartbeat ?? defaults.opTimeouts?.heartbeat;
    nodes.push({
      id: node.id,
      op: node.spec.name,
      inputs: node.inputs.map((i) => ({ name: i.name, source: i.source })),
      outputs: node.spec.outputs.map((o) => ({ name: o.name, dynamic: o.dynamic, required: o.required })),
      dim,
      stages: [],
      retryPolicy: policy
        ? {
            maxRetries: policy.maxRetries,
            delay: policy.delay,
            ...(policy.backoff ? { backoff: policy.backoff } : {}),
            ...(policy.jitter ? { jitter: policy.jitter } : {}),
          }
        : null,
      timeouts: {
        startToCloseMs: startToClose ? durationMs(startToClose, `op "${node.spec.name}" timeouts.startToClose`) : DEFAULT_START_TO_CLOSE_MS,
        heartbeatMs: heartbeat ? durationMs(heartbeat, `op "${node.spec.name}" timeouts.heartbeat`) : DEFAULT_HEARTBEAT_MS,
      },
      tags: { ...node.spec.tags },
    });
  }
  assignStages(nodes, tracer);
  const dimensions = resolveMapOptions(tracer, dims);
  checkHistoryBudget(nodes, tracer);
  if (nodes.length === 0) {
    tracer.issue('empty-job', undefined, 'the job body invoked no ops', 'call at least one op inside the job body');
  }
  return {
    planVersion: PLAN_VERSION,
    job: tracer.jobName,
    ...(description ? { description } : {}),
    nodes,
    ...(Object.keys(dimensions).length > 0 ? { dimensions } : {}),
    ...(Object.keys(tracer.graphOutputs).length > 0 ? { graphOutputs: tracer.graphOutputs } : {}),
  };
}

interface Candidate {
  readonly dim: string[];
  readonly via: string;
}

function dimensionOf(node: TracedNode, traced: Map<string, TracedNode>, dims: Map<string, string[]>, tracer: Tracer): string[] {
  const candidates: Candidate[] = [];
  const collected: { dim: string; input: string }[] = [];
  for (const input of node.inputs) {
    for (const candidate of candidatesFor(input.source, input.name, node, traced, dims, tracer, collected)) {
      candidates.push(candidate);
    }
  }
  let dim: string[] = [];
  let deepest: Candidate | undefined;
  for (const candidate of candidates) {
    if (candidate.dim.length > dim.length) {
      dim = candidate.dim;
      deepest = candidate;
    }
  }
  for (const candidate of candidates) {
    if (!isPrefix(candidate.dim, dim)) {
      tracer.issue(
        'C7',
        node.id,
        `op "${node.spec.name}" cannot be downstream of more than one dynamic output. It is downstream of both "${last(dim)}" (via ${deepest?.via}) and "${last(candidate.dim)}" (via ${candidate.via})`,
        'collect one of them first (x.collect()) and pass the list, or nest the second fan-out inside the first map',
      );
    }
  }
  for (const { dim: collectedDim, input } of collected) {
    if (dim.includes(collectedDim)) {
      tracer.issue(
        'C12',
        node.id,
        `op "${node.spec.name}" cannot both collect over dynamic output "${collectedDim}" (input "${input}") and be downstream of that same dynamic output`,
        "pass the collected list through a separate op outside the map, then use that op's output inside the map",
      );
    }
  }
  return dim;
}

function candidatesFor(
  source: InputSource,
  input: string,
  node: TracedNode,
  traced: Map<string, TracedNode>,
  dims: Map<string, string[]>,
  tracer: Tracer,
  collected: { dim: string; input: string }[],
): Candidate[] {
  const via = `input "${input}"`;
  switch (source.kind) {
    case 'config':
      return [];
    case 'output':
    case 'item': {
      const producerDim = dims.get(source.node);
      const output = traced.get(source.node)?.spec.outputs.find((o) => o.name === source.output);
      if (!producerDim || !output) return [];
      if (source.kind === 'item') return [{ dim: [...producerDim, dimensionId(source)], via }];
      return [{ dim: producerDim, via }];
    }
    case 'collect': {
      const producerDim = dims.get(source.node);
      const output = traced.get(source.node)?.spec.outputs.find((o) => o.name === source.output);
      if (!producerDim || !output) return [];
      if (output.dynamic) {
        // Collecting the raw items of a dynamic output: available as soon as the fan-out op finishes.
        collected.push({ dim: dimensionId(source), input });
        checkCollectUnpacked(source, dimensionId(source), producerDim, input, node, dims, tracer);
        return [{ dim: producerDim, via }];
      }
      const collectedDim = producerDim[producerDim.length - 1];
      if (collectedDim === undefined) {
        tracer.issue(
          'collect-static',
          node.id,
          `input "${input}" collects the output of "${source.node}", which is not mapped over any dynamic output`,
          'call .collect() on a dynamic output or on the result of .map(); pass a static output directly',
        );
        return [];
      }
      collected.push({ dim: collectedDim, input });
      checkCollectUnpacked(source, collectedDim, producerDim.slice(0, -1), input, node, dims, tracer);
      return [{ dim: producerDim.slice(0, -1), via }];
    }
    case 'fanin': {
      for (const ref of source.sources) {
        const producerDim = dims.get(ref.node) ?? [];
        if (producerDim.length > 0) {
          tracer.issue(
            'C5b',
            node.id,
            `input "${input}" is a fan-in list containing output "${ref.node}:${ref.output}", downstream of dynamic output "${last(producerDim)}"; items in a fan-in list cannot be downstream of dynamic outputs`,
            'use .collect() on the mapped result and pass that list directly',
          );
        }
      }
      return [];
    }
  }
}

/**
 * Dagster C1 (and C9), for nested fan-outs: `.collect()` gathers only the innermost dimension. A
 * collect over a fan-out that is itself mapped (`dyn().map(fanOut).collect()`) is still one list
 * per outer key — dynamic in the outer dimension — so the op receiving it must be invoked inside
 * a `.map()` over that outer dimension (opgraph's nested fan-out); outside, it would silently run
 * once per outer key. (Mapping follows data for plain outputs; this one is a dynamic value.)
 */
function checkCollectUnpacked(
  source: { node: string; output: string },
  collectedDim: string,
  remaining: readonly string[],
  input: string,
  node: TracedNode,
  dims: Map<string, string[]>,
  tracer: Tracer,
): void {
  if (remaining.length === 0) return;
  const unpacked = new Set<string>();
  for (const frame of node.frames) {
    for (const dim of dims.get(frame.ref.node) ?? []) unpacked.add(dim);
    if (frame.raw) unpacked.add(dimensionId(frame.ref));
  }
  const still = remaining.filter((dim) => !unpacked.has(dim));
  const outer = still[0];
  if (outer === undefined) return;
  const opOf = (dim: string) => dim.slice(0, dim.lastIndexOf(':'));
  const fanOut = opOf(collectedDim);
  const inner = source.node === fanOut ? `${fanOut}(x).collect()` : `${fanOut}(x).map(${source.node}).collect()`;
  const what =
    source.node === fanOut ? `the collected items of "${collectedDim}"` : `the collected "${source.node}" over "${collectedDim}"`;
  tracer.issue(
    'C1',
    node.id,
    `input "${input}" received ${what}, but "${fanOut}" is itself mapped over the dynamic output "${outer}": that .collect() gives one list per "${outer}" key, so the value is still dynamic and must be unpacked by invoking map or collect (Dagster: cannot be downstream of more than one dynamic output)`,
    `invoke "${node.id}" inside the .map() over "${outer}" so it runs once per key — e.g. ${opOf(outer)}().map((x) => ${node.spec.name}(${inner})) — and .collect() that map's result if one value is needed`,
  );
}

function isPrefix(prefix: readonly string[], of: readonly string[]): boolean {
  return prefix.length <= of.length && prefix.every((d, i) => of[i] === d);
}

function last(dim: readonly string[]): string {
  return dim[dim.length - 1] ?? '(none)';
}

/**
 * Splits each dynamic dimension into stages at barriers: a node of dimension D that consumes a
 * value computed (outside D) from a collect of D's own nodes cannot run in the same per-key child
 * as those nodes — it runs in a later wave. `r = d.map(a); s = total(r.collect()); r.map(v => b(v, s))`
 * gives a stage 0 and b stage 1. Nodes are in topological order, so one pass suffices.
 */
function assignStages(nodes: PlanNode[], tracer: Tracer): void {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const node of nodes) node.stages = node.dim.map(() => 0);
  const dims = new Set(nodes.flatMap((n) => n.dim.map((_, level) => n.dim.slice(0, level + 1).join('\u0000'))));
  for (const dimPath of dims) {
    const level = dimPath.split('\u0000').length - 1;
    const inSubtree = (n: PlanNode) => n.dim.length > level && n.dim.slice(0, level + 1).join('\u0000') === dimPath;
    // barrier(O): the first stage at which a node outside the subtree can be consumed inside it.
    const barrier = new Map<string, number>();
    const barrierOf = (id: string): number => {
      const known = barrier.get(id);
      if (known !== undefined) return known;
      const outside = byId.get(id);
      let stage = 0;
      for (const producer of outside ? producersOf(outside) : []) {
        const p = byId.get(producer);
        if (!p) continue;
        stage = Math.max(stage, inSubtree(p) ? (p.stages[level] ?? 0) + 1 : barrierOf(producer));
      }
      barrier.set(id, stage);
      return stage;
    };
    for (const node of nodes) {
      if (!inSubtree(node)) continue;
      let stage = 0;
      for (const producer of producersOf(node)) {
        const p = byId.get(producer);
        if (!p) continue;
        stage = Math.max(stage, inSubtree(p) ? (p.stages[level] ?? 0) : barrierOf(producer));
      }
      node.stages[level] = stage;
    }
    for (const node of nodes) {
      if (!inSubtree(node)) continue;
      for (const { name, source } of node.inputs) {
        if (source.kind !== 'collect') continue;
        const p = byId.get(source.node);
        if (p && inSubtree(p) && p.dim.length > node.dim.length && p.stages[level] !== node.stages[level]) {
          tracer.issue(
            'collect-across-stages',
            node.id,
            `input "${name}" collects "${p.id}" from an earlier stage of dimension "${node.dim[level]}" while "${node.id}" also waits for a value computed from a collect of that dimension`,
            'move the inner collect and its consumer into their own op chain that does not depend on the barrier value',
          );
        }
      }
    }
  }
}

function producersOf(node: PlanNode): string[] {
  return node.inputs.flatMap(({ source }) => {
    if (source.kind === 'fanin') return source.sources.map((s) => s.node);
    if (source.kind === 'config') return [];
    return [source.node];
  });
}

/** Attaches `.map(fn, options)` to dimensions; chained maps share one dimension, so their options must agree. */
function resolveMapOptions(tracer: Tracer, dims: Map<string, string[]>): Record<string, DimensionOptions> {
  const resolved: Record<string, DimensionOptions> = {};
  for (const { ref, raw, options } of tracer.mapOptions) {
    const dim = raw ? dimensionId(ref) : dims.get(ref.node)?.at(-1);
    if (dim === undefined) {
      tracer.issue(
        'map-options',
        ref.node,
        `.map() options were given on "${ref.node}", which is not mapped over any dynamic output`,
        'give the options on the .map() of a dynamic output',
      );
      continue;
    }
    const existing = resolved[dim];
    if (existing && JSON.stringify(existing) !== JSON.stringify(options)) {
      tracer.issue(
        'map-options',
        ref.node,
        `the maps over "${dim}" were given different options (${JSON.stringify(existing)} and ${JSON.stringify(options)}); chained maps run as one per-key scope`,
        'give the options once, on the first .map()',
      );
      continue;
    }
    resolved[dim] = options;
  }
  return resolved;
}

/**
 * Each scope — the job's top level, or one key of a map (per stage) — runs its own steps in one
 * workflow history. Their projected events, every user retry included, must fit the budget
 * (maps shard; a scope's own steps cannot).
 */
function checkHistoryBudget(nodes: readonly PlanNode[], tracer: Tracer): void {
  const scopes = new Map<string, PlanNode[]>();
  for (const node of nodes) {
    const scope = `${node.dim.join('/')}#${node.stages[node.stages.length - 1] ?? 0}`;
    scopes.set(scope, [...(scopes.get(scope) ?? []), node]);
  }
  for (const members of scopes.values()) {
    const events = members.reduce((sum, n) => sum + stepEvents(n), 0);
    if (events <= KEY_EVENT_ROOM) continue;
    const first = members[0];
    const where = first && first.dim.length > 0 ? `one mapping key of the map over ${first.dim.join(' → ')}` : "the job's top level";
    const retried = members.filter((n) => (n.retryPolicy?.maxRetries ?? 0) > 0).length;
    tracer.issue(
      'history-budget',
      first?.id,
      `${where} runs ${members.length} steps that could take ${events} workflow history events with every retry used (${retried} of them retry); one history must stay within ${KEY_EVENT_ROOM} events to remain under Temporal's 10,240-event budget`,
      'lower maxRetries on these ops, or split the work: move ops into a map over their inputs, or into a second job',
    );
  }
}
