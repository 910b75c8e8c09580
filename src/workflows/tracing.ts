/**
 * The workflow side of tracing (bundled as a workflow interceptor module, see INTERPRETER_BUNDLE in
 * src/worker/createWorker.ts): the trace context a workflow was started with — the header of
 * @temporalio/interceptors-opentelemetry's client interceptor, or its parent workflow's — goes on
 * to every activity, child workflow and continue-as-new it starts, where the library's activity
 * interceptor opens each step's span in that trace. So a run, children and shards included, is one
 * trace.
 *
 * Why not the library's own workflow interceptors: they open spans inside the sandbox through its
 * AsyncLocalStorage, which crashed the workflow thread ("async hook stack has become corrupted") with
 * a thousand activities pending in one workflow (test/integration/budget.test.ts), and their awaits
 * reorder commands of histories recorded without them. This one neither awaits nor creates anything:
 * the commands and their order are unchanged, only a header is added (headers are not compared on replay).
 */
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import type {
  Payload,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The start header of this execution (module state is per workflow execution). */
let inherited: Payload | undefined;

/** `input` with the inherited trace header, unless it has one of its own. */
function withTrace<I extends { readonly headers: Record<string, Payload> }>(input: I): I {
  if (inherited === undefined || input.headers[TRACE_HEADER] !== undefined) return input;
  return { ...input, headers: { ...input.headers, [TRACE_HEADER]: inherited } };
}

const inbound: WorkflowInboundCallsInterceptor = {
  execute: (input, next) => {
    inherited = input.headers[TRACE_HEADER];
    return next(input);
  },
};

const outbound: WorkflowOutboundCallsInterceptor = {
  scheduleActivity: (input, next) => next(withTrace(input)),
  scheduleLocalActivity: (input, next) => next(withTrace(input)),
  startChildWorkflowExecution: (input, next) => next(withTrace(input)),
  continueAsNew: (input, next) => next(withTrace(input)),
};

export const interceptors = (): WorkflowInterceptors => ({ inbound: [inbound], outbound: [outbound] });
