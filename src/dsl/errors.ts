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

/** Run config does not match what the job's ops declare. Raised before a run starts. */
export class RunConfigError extends OpgraphError {
  override readonly name = 'RunConfigError';
  readonly problems: readonly string[];

  constructor(job: string, problems: readonly string[]) {
    super(`Run config for job "${job}" is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** An op's code threw, or produced outputs that break the op's contract. */
export class OpExecutionError extends OpgraphError {
  override readonly name = 'OpExecutionError';
  readonly stepKey: string;

  constructor(stepKey: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.stepKey = stepKey;
  }
}

function formatIssues(job: string, issues: readonly DefinitionIssue[]): string {
  const lines = issues.map((issue) => {
    const where = issue.node ? `node "${issue.node}"` : 'job';
    return `  - [${issue.code}] ${where}: ${issue.message}\n    fix: ${issue.fix}`;
  });
  const noun = issues.length === 1 ? 'problem' : 'problems';
  return `Job "${job}" has ${issues.length} definition ${noun}:\n${lines.join('\n')}`;
}
