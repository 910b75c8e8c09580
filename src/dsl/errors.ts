/** One problem found while checking a job definition: where it is, what is wrong, how to fix it. */
export interface DefinitionIssue {
  /** Stable identifier of the rule, e.g. `C1` or `duplicate-op-name`. */
  readonly code: string;
  readonly job: string;
  readonly node?: string;
  readonly message: string;
  readonly fix: string;
}

/** Base class of every error opgraph raises on purpose. */
export class OpgraphError extends Error {
  override readonly name: string = 'OpgraphError';
}

/** A job (or graph) is wired in a way opgraph cannot run. Lists every problem at once. */
export class JobDefinitionError extends OpgraphError {
  override readonly name = 'JobDefinitionError';
  readonly issues: readonly DefinitionIssue[];

  constructor(job: string, issues: readonly DefinitionIssue[]) {
    super(formatIssues(job, issues));
    this.issues = issues;
  }
}

/** One problem found while checking run config: where it is, what is wrong, how to fix it. */
export interface RunConfigIssue {
  /** Where in the run config, e.g. `ops.list_files.config.dir` (node ids of ops inside graphs are dotted: `ops.outer.inner`); `(root)` for the whole run config. */
  readonly path: string;
  readonly message: string;
  /** What to change so the run config is accepted. */
  readonly fix: string;
}

/** Run config does not match what the job's ops declare. Raised before a run starts. Lists every problem at once. */
export class RunConfigError extends OpgraphError {
  override readonly name = 'RunConfigError';
  readonly job: string;
  readonly issues: readonly RunConfigIssue[];

  constructor(job: string, issues: readonly RunConfigIssue[]) {
    super(`Run config for job "${job}" is invalid:\n${issues.map((i) => `  - ${i.path}: ${i.message}\n    fix: ${i.fix}`).join('\n')}`);
    this.job = job;
    this.issues = issues;
  }

  /** Each issue as one line, `path: message. Fix: fix` (kept for callers of the former string list). */
  get problems(): readonly string[] {
    return this.issues.map((i) => `${i.path}: ${i.message}. Fix: ${i.fix}`);
  }
}

/**
 * An op's code threw. Wraps what it threw (kept as `cause`) with the step key; the op runner turns
 * it into the `OpUserError` failure that crosses Temporal.
 */
export class OpExecutionError extends OpgraphError {
  override readonly name = 'OpExecutionError';
  readonly stepKey: string;
  /**
   * Class of what the op threw (the `cause`): `RangeError`, a user-defined class, or for a thrown
   * non-Error value its type (`string`, `number`, `null`, `Object`…). Undefined without a cause.
   */
  readonly errorClass: string | undefined;

  constructor(stepKey: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.stepKey = stepKey;
    this.errorClass = options && 'cause' in options ? classOf(options.cause) : undefined;
  }
}

/** An op broke its contract (bad mapping key, wrong output kind, output schema failure, bad heartbeat details). Never retried. */
export class OutputContractError extends OpgraphError {
  override readonly name = 'OutputContractError';
}

/**
 * `JobResult.outputFor` asked for an output the run did not produce (Dagster's "No outputs found
 * for output … from node …"): a DynamicOut that yielded no items, a mapped node with no clones, an
 * optional output that was not yielded, or a step that failed or was skipped.
 */
export class OutputNotFoundError extends OpgraphError {
  override readonly name = 'OutputNotFoundError';

  constructor(
    readonly node: string,
    readonly output: string,
    message: string,
  ) {
    super(message);
  }
}

/** The class name of a thrown value, for error reports. */
export function classOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  let constructorName: unknown;
  try {
    constructorName = (value as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    // A hostile getter: fall back to what instanceof tells.
  }
  if (typeof constructorName === 'string' && constructorName !== '') return constructorName;
  return value instanceof Error ? value.name : 'Object';
}

function formatIssues(job: string, issues: readonly DefinitionIssue[]): string {
  const lines = issues.map((issue) => {
    const where = issue.node ? `node "${issue.node}"` : 'job';
    return `  - [${issue.code}] ${where}: ${issue.message}\n    fix: ${issue.fix}`;
  });
  const noun = issues.length === 1 ? 'problem' : 'problems';
  return `Job "${job}" has ${issues.length} definition ${noun}:\n${lines.join('\n')}`;
}
