import { JobDefinitionError, OpgraphError } from './errors.ts';
import { durationMs, type Duration } from './duration.ts';
import { attachSpec, type OpSpec } from './op.ts';
import type { JobPlan } from './plan.ts';
import { buildPlan, type JobOpDefaults } from './planner.ts';
import { trace } from './trace.ts';
import { currentTracer } from './tracing.ts';

export interface JobConfig extends JobOpDefaults {
  name: string;
  description?: string;
  /**
   * What a step that exhausts its retries does. 'fail' (default, Dagster's behaviour): the run fails
   * once every step that can run has. 'wait': the step waits, its siblings go on and the run stays
   * Running until `opgraph redrive` runs it again (and what is downstream of it) or `opgraph give-up`
   * ends the run as it would have failed.
   */
  onStepFailure?: 'fail' | 'wait';
  /** With `onStepFailure: 'wait'`: how long failed steps may wait for a redrive before the run gives up by itself. */
  redriveTimeout?: Duration;
}

/** A traced job: its plan plus the op code the op runner needs. */
export interface JobDefinition {
  readonly kind: 'job';
  readonly name: string;
  readonly description: string | undefined;
  readonly plan: JobPlan;
  /** Op specs by node id (`outer.inner.echo_2`). */
  readonly nodeOps: ReadonlyMap<string, OpSpec>;
}

/** Traces `body` once into a plan; every definition problem is reported at once as a JobDefinitionError. */
export function job(config: JobConfig | string, body: () => unknown): JobDefinition {
  const { name, description, onStepFailure, redriveTimeout, ...defaults } =
    typeof config === 'string' ? { name: config, description: undefined, onStepFailure: undefined, redriveTimeout: undefined } : config;
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    throw new OpgraphError(`job name ${JSON.stringify(name)} is not valid: names must match ^[A-Za-z0-9_]+$`);
  }
  const tracer = trace(name, body);
  const plan = { ...buildPlan(tracer, description, defaults), ...failurePolicy(name, onStepFailure, redriveTimeout) };
  if (tracer.issues.length > 0) throw new JobDefinitionError(name, tracer.issues);
  return {
    kind: 'job',
    name,
    description,
    plan,
    nodeOps: new Map(tracer.nodes.map((n) => [n.id, n.spec])),
  };
}

/** The plan's `onStepFailure` (absent for 'fail', so plans of jobs without the option stay as they were). */
function failurePolicy(job: string, mode: unknown, timeout: Duration | undefined): Pick<JobPlan, 'onStepFailure'> {
  if (mode !== undefined && mode !== 'fail' && mode !== 'wait') {
    throw new OpgraphError(`job "${job}": onStepFailure must be 'fail' or 'wait'; got ${JSON.stringify(mode)}`);
  }
  if (mode !== 'wait') {
    if (timeout !== undefined) {
      throw new OpgraphError(`job "${job}": redriveTimeout applies only with onStepFailure: 'wait'; add it or drop redriveTimeout`);
    }
    return {};
  }
  const timeoutMs = timeout === undefined ? undefined : durationMs(timeout, `job "${job}": redriveTimeout`);
  return { onStepFailure: { mode: 'wait', ...(timeoutMs !== undefined ? { timeoutMs } : {}) } };
}

export interface GraphConfig {
  name: string;
  description?: string;
}

export interface GraphDefinition<A extends unknown[], R> {
  readonly kind: 'graph';
  readonly name: string;
  readonly description: string | undefined;
  /** Inside a job or graph: inlines the graph's ops under the path prefix `<name>.`. */
  (...args: A): R;
  alias(name: string): (...args: A) => R;
}

/** A reusable composite of ops, called like an op; its nodes get ids `graph_name.inner_op`. */
export function graph<A extends unknown[], R>(config: GraphConfig | string, body: (...args: A) => R): GraphDefinition<A, R> {
  const { name, description } = typeof config === 'string' ? { name: config, description: undefined } : config;
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    throw new OpgraphError(`graph name ${JSON.stringify(name)} is not valid: names must match ^[A-Za-z0-9_]+$`);
  }
  const invoke =
    (alias: string | undefined) =>
    (...args: A): R => {
      const tracer = currentTracer(`graph "${name}"`);
      const id = tracer.allocateNodeId(alias ?? name, alias !== undefined);
      const returned = tracer.withPrefix(`${id}.`, () => body(...args));
      tracer.recordGraphOutputs(id, returned);
      return returned;
    };
  return attachSpec(invoke(undefined), {
    kind: 'graph',
    name,
    description,
    alias: (alias: string) => invoke(alias),
  }) as GraphDefinition<A, R>;
}

/** The jobs a worker can run. Ops are collected from the jobs; one name must mean one op. */
export class Definitions {
  readonly jobs: ReadonlyMap<string, JobDefinition>;
  readonly ops: ReadonlyMap<string, OpSpec>;

  constructor(options: { jobs: readonly JobDefinition[] }) {
    const jobs = new Map<string, JobDefinition>();
    const ops = new Map<string, OpSpec>();
    const problems: string[] = [];
    for (const definition of options.jobs) {
      if (jobs.has(definition.name) && jobs.get(definition.name) !== definition) {
        problems.push(`two different jobs are named "${definition.name}"; rename one`);
      }
      jobs.set(definition.name, definition);
      for (const spec of definition.nodeOps.values()) {
        if (spec.name.startsWith('__opgraph'))
          problems.push(`op name "${spec.name}" is reserved for opgraph's own activities; rename the op`);
        const existing = ops.get(spec.name);
        if (existing && existing.fn !== spec.fn) {
          problems.push(
            `two different ops are named "${spec.name}" (one is used by job "${definition.name}"); op names are Temporal activity types and must be unique — rename one with op({ name })`,
          );
        }
        ops.set(spec.name, spec);
      }
    }
    if (problems.length > 0) {
      throw new OpgraphError(`Definitions are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    }
    this.jobs = jobs;
    this.ops = ops;
  }

  getJob(name: string): JobDefinition {
    const found = this.jobs.get(name);
    if (!found) {
      throw new OpgraphError(
        `unknown job "${name}"; known jobs: ${[...this.jobs.keys()].join(', ') || '(none)'}. Check the name (job names are exact), or add the job to new Definitions({ jobs: [...] })`,
      );
    }
    return found;
  }
}
