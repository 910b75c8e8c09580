import v8 from 'node:v8';

/** `1` / `on`: the workflow sandboxes keep stack traces (slower; for reading a stuck run's Stack Trace tab). */
export const WORKFLOW_STACK_TRACES_ENV = 'OPGRAPH_WORKFLOW_STACK_TRACES';

/**
 * Creates a worker's workflow sandboxes without stack traces, unless OPGRAPH_WORKFLOW_STACK_TRACES is on.
 *
 * Why: for Temporal's stack-trace query, the SDK captures and formats a stack trace for every promise
 * workflow code creates (a V8 promise hook in @temporalio/worker's vm-shared). On a map with a thousand
 * keys pending that was about four fifths of the workflow's CPU: activations of several seconds, past the
 * SDK's 5 s limit, failed workflow tasks and replays (bench/RESULTS.md, "Workflow CPU per key"). With a
 * stack trace limit of 0 the hook captures nothing.
 *
 * How: a V8 context takes its `Error.stackTraceLimit` from the `--stack-trace-limit` flag when it is
 * created, and the SDK creates the sandbox contexts (and their threads) in `Worker.create`. The flag is
 * set for that call only, then set back to this realm's limit: this process's own realm (where ops run)
 * keeps its stack traces, as do threads and contexts created later. A worker created with
 * `reuseV8Context: false` makes a context per run, later, so it keeps them too.
 *
 * What is lost: the Web UI's "Stack Trace" tab of a running workflow is empty, and failures raised by the
 * interpreter itself (not by ops, which run outside the sandbox) carry no stack.
 */
export async function withoutWorkflowStackTraces<T>(env: NodeJS.ProcessEnv, create: () => Promise<T>): Promise<T> {
  if (keepsStackTraces(env[WORKFLOW_STACK_TRACES_ENV])) return create();
  const limit = Error.stackTraceLimit;
  const restore = Number.isInteger(limit) && limit >= 0 ? limit : 10;
  v8.setFlagsFromString('--stack-trace-limit=0');
  try {
    return await create();
  } finally {
    v8.setFlagsFromString(`--stack-trace-limit=${restore}`);
  }
}

function keepsStackTraces(value: string | undefined): boolean {
  return value !== undefined && ['1', 'on', 'true', 'yes'].includes(value.trim().toLowerCase());
}
